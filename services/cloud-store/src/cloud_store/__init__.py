"""Ciphertext in S3 and the keyword-tag index."""
