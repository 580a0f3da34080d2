"""Who may read what: grants, keys and rotation, delegation, emergency segments."""
