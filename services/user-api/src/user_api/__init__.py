"""The data user's side: search, access, break-glass."""
