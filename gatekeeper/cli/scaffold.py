"""``gatekeeper scaffold``: golden-path templates — list, new, update, check."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from gatekeeper.cli.options import engine_option
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS
from gatekeeper.model import Outcome
from gatekeeper.scaffold.answers import Asker, parse_set_options, read_answers_file
from gatekeeper.scaffold.check import check_service
from gatekeeper.scaffold.new import scaffold_new
from gatekeeper.scaffold.template import TEMPLATES_ENV_VARIABLE, Parameter, ParamType, TemplateStore
from gatekeeper.scaffold.update import Action, scaffold_update

_templates_option = click.option(
    "--templates",
    "templates_dir",
    type=click.Path(file_okay=False, exists=True),
    envvar=TEMPLATES_ENV_VARIABLE,
    help=f"Directory of templates (<id>/<version>/template.yaml). Default: the built-in "
    f"templates; also ${TEMPLATES_ENV_VARIABLE}.",
)
_set_option = click.option(
    "--set",
    "set_values",
    multiple=True,
    metavar="NAME=VALUE",
    help="Answer a template parameter; repeatable.",
)


def _store(templates_dir: str | None) -> TemplateStore:
    return TemplateStore(Path(templates_dir) if templates_dir else None)


def _prompt_asker() -> Asker:
    """Ask on the terminal, validating each answer as it is typed (re-asks on a bad one)."""

    def ask(param: Parameter, default: Any, validate: Callable[[Any], Any]) -> Any:
        def value_proc(raw: str) -> Any:
            try:
                return validate(raw)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None

        shown_default: str | None
        if default is None:
            shown_default = None
        elif param.type is ParamType.BOOL:
            shown_default = "true" if default else "false"
        else:
            shown_default = str(default)
        label = param.name
        if param.type is ParamType.CHOICE:
            label += f" ({'/'.join(param.choices)})"
        if param.help:
            label += f" - {param.help}"
        return click.prompt(label, default=shown_default, value_proc=value_proc)

    return ask


def _interactive(no_input: bool) -> bool:
    return not no_input and sys.stdin.isatty() and sys.stdout.isatty()


@click.group()
def scaffold() -> None:
    """Golden-path templates: create services, keep them current, check they stay on the path."""


@scaffold.command("list")
@_templates_option
def list_templates(templates_dir: str | None) -> None:
    """List the templates, their versions and parameters."""
    store = _store(templates_dir)
    for template_id in store.ids():
        template = store.load(template_id)
        versions = ", ".join(store.versions(template_id))
        click.echo(f"{template_id} {template.version}  (versions: {versions})")
        click.echo(f"    {template.manifest.description}")
        for param in template.manifest.parameters:
            default = "" if param.default is None else f" [default: {param.default}]"
            required = " (required)" if param.required and param.default is None else ""
            click.echo(
                f"    --set {param.name}=<{param.type.value}>{required}{default}  {param.help}"
            )


@scaffold.command("new")
@click.argument("template_id", metavar="TEMPLATE")
@click.argument("dest", type=click.Path(file_okay=False))
@_set_option
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(dir_okay=False),
    help="YAML/JSON file of parameter answers (--set wins over it).",
)
@click.option(
    "--version",
    "version",
    metavar="VERSION",
    help="Template version to use. Default: the latest shipped version.",
)
@click.option("--force", is_flag=True, help="Overwrite files that already exist in DEST.")
@click.option(
    "--dry-run", is_flag=True, help="List the files that would be written; write nothing."
)
@click.option(
    "--no-input",
    is_flag=True,
    help="Never prompt, even on a terminal: missing required answers are an error (exit 2).",
)
@_templates_option
def new(
    template_id: str,
    dest: str,
    set_values: tuple[str, ...],
    answers_file: str | None,
    version: str | None,
    force: bool,
    dry_run: bool,
    no_input: bool,
    templates_dir: str | None,
) -> None:
    """Create a service in DEST from TEMPLATE.

    Missing answers are asked for on a terminal (validated as typed), otherwise defaults apply
    and a missing required answer is an error. Nothing is written when anything is wrong: an
    invalid answer, a path leaving DEST, a symlink in DEST or a file that exists (without
    --force). The answers are recorded in DEST/.gatekeeper/template.json for `scaffold update`.
    """
    given: dict[str, Any] = read_answers_file(Path(answers_file)) if answers_file else {}
    given.update(parse_set_options(set_values))
    result = scaffold_new(
        _store(templates_dir),
        template_id,
        Path(dest),
        given,
        ask=_prompt_asker() if _interactive(no_input) else None,
        force=force,
        dry_run=dry_run,
        version=version,
    )
    verb = "would write" if dry_run else "wrote"
    label = f"{result.template.id} {result.template.version}"
    click.echo(f"{label}: {verb} {len(result.files)} files in {dest}")
    for path in result.files:
        mark = " (overwrite)" if path in result.overwritten else ""
        click.echo(f"  {path}{mark}")


@scaffold.command("update")
@click.argument("directory", type=click.Path(file_okay=False, exists=True), default=".")
@click.option("--to", "to_version", metavar="VERSION", help="Template version. Default: latest.")
@_set_option
@click.option("--dry-run", is_flag=True, help="Show the diff that would be applied; write nothing.")
@_templates_option
def update(
    directory: str,
    to_version: str | None,
    set_values: tuple[str, ...],
    dry_run: bool,
    templates_dir: str | None,
) -> None:
    """Bring the service in DIRECTORY to a newer template version, keeping local changes.

    Three-way merge per file: the old template version (re-rendered with the recorded answers)
    is the base, the new version theirs, the files now ours. Overlapping changes get standard
    conflict markers and the command exits 1. --set answers new parameters.
    """
    result = scaffold_update(
        _store(templates_dir),
        Path(directory),
        to_version=to_version,
        given=parse_set_options(set_values),
        dry_run=dry_run,
    )
    head = f"{result.template} {result.from_version} -> {result.to_version}"
    if not result.changes:
        click.echo(f"{head}: nothing to change")
    else:
        click.echo(f"{head}{' (dry run)' if dry_run else ''}:")
    for change in result.changes:
        note = f"  ({change.note})" if change.note else ""
        click.echo(f"  {change.action.value:<13} {change.path}{note}")
    for path in result.base_mismatches:
        click.echo(f"  warning: {path}: the old template version changed since it was rendered")
    if dry_run:
        for change in result.changes:
            if change.writes:
                click.echo(change.diff(), nl=False)
    if result.conflicts:
        click.echo(
            f"{len(result.conflicts)} file(s) have conflicts: resolve the <<<<<<< ======= >>>>>>> "
            "markers, then commit",
            err=True,
        )
        raise SystemExit(EXIT_FAIL)
    if not dry_run and any(c.action is Action.MERGED for c in result.changes):
        click.echo("merged cleanly; review the changes before committing")


@scaffold.command("check")
@click.argument("directory", type=click.Path(file_okay=False, exists=True), default=".")
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help="Extra conformance policies (directory, .rego file, bundle); repeatable.",
)
@click.option(
    "-d",
    "--data",
    "data",
    multiple=True,
    help="Data for the policies, e.g. settings.scaffold.min_template_versions; repeatable.",
)
@click.option(
    "--no-builtin",
    is_flag=True,
    help="Only the -p policies, not the built-in golden-path policies.",
)
@engine_option()
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per violation; json: outcome, violations, rules and the parsed input.",
)
def check(
    directory: str,
    policies: tuple[str, ...],
    data: tuple[str, ...],
    no_builtin: bool,
    engine: str,
    format_: str,
) -> None:
    """Check that the service's CI pipeline is still on the golden path.

    Parses .github/workflows/*.yml and .gitlab-ci.yml and evaluates the conformance policies:
    SBOM, SAST, dependency-scan and gate steps present, the gate after the scans, with its
    required flags, and the template version not older than allowed.
    Exit codes as the gate: 0 pass, 1 violations, 2 bad input, 3 policy or engine error.
    """
    result = check_service(
        Path(directory),
        policies=policies,
        data=data,
        builtin=not no_builtin,
        engine=engine,
    )
    if format_ == "json":
        click.echo(result.to_json())
    else:
        for violation in result.decision.violations:
            click.echo(
                f"{violation.level.value.upper():<5} {violation.policy}  {violation.message}"
            )
        rules = result.decision.rules
        passed = sum(1 for r in rules if r.passed)
        click.echo(
            f"{result.outcome.value.upper()}: {passed} of {len(rules)} conformance rules passed"
        )
    raise SystemExit(EXIT_FAIL if result.outcome is Outcome.FAIL else EXIT_PASS)
