"""scaffold layer."""
