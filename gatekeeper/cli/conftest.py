"""``gatekeeper conftest test|verify|parse``: conftest's command line, for drop-in use.

``test`` is ``gatekeeper check``; ``verify`` runs the policies' unit tests as ``conftest
verify`` does (its summary line, ``--report``, ``--trace``, conftest's ``parse_config*``
builtins on the opa engine); ``parse`` prints what policies would see as ``input``. The group's
``-c/--config-file`` is conftest's global flag. docs/conftest-compat.md lists the differences.
"""

from __future__ import annotations

import json
import sys

import click

from gatekeeper.cli.check import (
    _split_commas,
    check,
    default_check_engine,
    render_stdout,
    render_table,
)
from gatekeeper.cli.options import engine_option, use_color
from gatekeeper.conftest.check import (
    STDIN,
    CheckRequest,
    combine_inputs,
    read_inputs,
)
from gatekeeper.conftest.config import conftest_config
from gatekeeper.conftest.formats import EXTRA_OUTPUTS
from gatekeeper.conftest.parsers import parser_names
from gatekeeper.conftest.verify import VerifyRequest, render_report, run_verify
from gatekeeper.evidence import DEFAULT_MAX_BYTES


@click.group("conftest")
@click.option(
    "-c",
    "--config-file",
    type=click.Path(dir_okay=False),
    help="conftest.toml with defaults for the commands' flags (default: ./conftest.toml).",
)
def conftest_group(config_file: str | None) -> None:
    """conftest's commands (test, verify, parse) on Gatekeeper's guarded engines."""


conftest_group.add_command(check, name="test")


@conftest_group.command("verify")
@click.argument("files", nargs=-1)
@click.option("-p", "--policy", "policies", multiple=True, help="Policy paths (default: policy).")
@click.option("-d", "--data", "data", multiple=True, help="Data files or directories.")
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Packages (globs allowed).")
@click.option(
    "-o",
    "--output",
    default="stdout",
    type=click.Choice(
        ["stdout", "json", "table", "tap", "junit", "github", "azuredevops", "sarif"]
    ),
)
@click.option("--report", type=click.Choice(["full", "notes", "fails"]), help="OPA test report.")
@click.option("--trace", is_flag=True, help="Print each test's evaluation trace.")
@click.option("--show-builtin-errors", is_flag=True, help="Accepted: builtin errors always fail.")
@click.option("--strict", is_flag=True, help="Not supported (exit 2).")
@click.option("--no-color", is_flag=True)
@click.option("--quiet", is_flag=True)
@click.option("--rego-version", type=click.Choice(["v1", "V1"]), default="v1")
@engine_option(default=None)
@click.pass_context
def verify(
    ctx: click.Context,
    files: tuple[str, ...],
    policies: tuple[str, ...],
    data: tuple[str, ...],
    namespaces: tuple[str, ...],
    output: str,
    report: str | None,
    trace: bool,
    show_builtin_errors: bool,
    strict: bool,
    no_color: bool,
    quiet: bool,
    rego_version: str,
    engine: str | None,
) -> None:
    """Run the policies' test_ rules as `conftest verify` does (exit 1 when one fails)."""
    if report and output != "stdout":
        raise click.UsageError("report flag is supported with stdout only")
    if strict:
        raise click.UsageError("--strict (OPA's strict compile checks) is not supported")
    config = conftest_config(ctx.parent.params.get("config_file") if ctx.parent else None)
    result = run_verify(
        VerifyRequest(
            policies=_split_commas(policies) or config.policies or ("policy",),
            data=_split_commas(data) or config.data,
            namespaces=_split_commas(namespaces) or config.namespaces,
            engine=engine or default_check_engine(),
            trace=trace or bool(report),
        )
    )
    code = 1 if result.failures else 0
    if quiet and code == 0:
        raise SystemExit(0)
    if report:
        click.echo(render_report(result, report), nl=False)
        raise SystemExit(code)
    for case in result.cases:
        for line in case.prints:
            click.echo(line)
        if trace:
            for line in case.trace:
                click.echo(line)
    checks = result.as_check_report()
    if output == "stdout":
        click.echo(render_stdout(checks, color=use_color(no_color)), nl=False)
    elif output == "table":
        click.echo(render_table(checks), nl=False)
    elif output == "json":
        from gatekeeper.cli.check import render_json

        click.echo(render_json(checks), nl=False)
    else:
        click.echo(EXTRA_OUTPUTS.create(output)(checks), nl=False)
    raise SystemExit(code)


@conftest_group.command("parse")
@click.argument("files", nargs=-1, required=True)
@click.option("--parser", type=click.Choice(parser_names()), help="Parse every file as this.")
@click.option("--combine", is_flag=True, help="Show the combined document --combine gives.")
def parse(files: tuple[str, ...], parser: str | None, combine: bool) -> None:
    """Print the document each file gives policies as `input` (conftest parse)."""
    stdin = sys.stdin.buffer.read(DEFAULT_MAX_BYTES + 1) if STDIN in files else None
    parsed = read_inputs(CheckRequest(files=files, parser=parser, stdin=stdin))
    if combine:
        parsed = (combine_inputs(parsed),)
    # One document per file as conftest prints it; a file of several is their list.
    documents = {
        p.name: p.documents[0] if len(p.documents) == 1 else list(p.documents) for p in parsed
    }
    value = next(iter(documents.values())) if len(documents) == 1 else documents
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
