"""Event stream captures: the file format, verification, replay, reports, generated streams."""
