"""The patient's side: records, grants, delegation, rotation."""
