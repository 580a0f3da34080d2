"""A patient's records: two-phase uploads, listing, download, deletion, contributors."""
