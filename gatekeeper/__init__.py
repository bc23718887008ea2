"""Gatekeeper: a policy-as-code release gate."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gatekeeper")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
