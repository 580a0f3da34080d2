"""Setup and Re-encryption Server node: sealed kfrags, ACL checks, re-encryption."""
