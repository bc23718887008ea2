"""policy/engines layer."""
