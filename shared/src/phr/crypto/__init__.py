"""Client-side cryptography: pure functions, no I/O frameworks."""
