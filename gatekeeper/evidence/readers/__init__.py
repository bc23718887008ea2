"""evidence/readers layer."""
