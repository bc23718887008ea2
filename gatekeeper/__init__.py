"""Gatekeeper: a policy-as-code release gate."""

# The single source of the version (pyproject reads it from here). A literal rather than
# importlib.metadata: that import alone costs ~40 ms on every gate run.
__version__ = "0.1.0"
