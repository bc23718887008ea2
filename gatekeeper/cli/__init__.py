"""Command-line interface: thin click layer over the core."""

from __future__ import annotations

import click

from gatekeeper import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gatekeeper")
def main() -> None:
    """Gatekeeper: policy-as-code release gate."""
