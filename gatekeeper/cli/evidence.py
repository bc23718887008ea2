"""``gatekeeper evidence``: see what the policies will see."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from gatekeeper.evidence import READERS, load_evidence
from gatekeeper.gate.input import build_gate_input, load_release
from gatekeeper.model import GateInput, Release


@click.group()
def evidence() -> None:
    """Inspect evidence files and the gate input document."""


@evidence.command("inspect")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(sorted(READERS)), help="Read every file as this kind.")
@click.option("--validate", is_flag=True, help="Validate SBOMs against the official schemas.")
@click.option(
    "--release", "release_file", type=click.Path(dir_okay=False), help="Release metadata file."
)
def inspect(
    paths: tuple[str, ...], kind: str | None, validate: bool, release_file: str | None
) -> None:
    """Print the gate input document built from PATHS as JSON (what policies see as `input`)."""
    release = load_release(Path(release_file)) if release_file else Release()
    merged = load_evidence(paths, kind=kind, validate=validate)
    document = build_gate_input(merged, release=release, now=datetime.now(UTC), env=os.environ)
    click.echo(json.dumps(document.to_document(), indent=2, ensure_ascii=False))


@evidence.command("kinds")
def kinds() -> None:
    """List the evidence kinds Gatekeeper reads (names for --kind)."""
    for name in sorted(READERS):
        click.echo(f"{name:<16} {READERS.create(name).description}")


@evidence.command("schema")
def schema() -> None:
    """Print the JSON Schema of the gate input document."""
    click.echo(json.dumps(GateInput.model_json_schema(by_alias=True), indent=2))
