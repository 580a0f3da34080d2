"""PHR Exchange shared package."""
