"""``gatekeeper policy``: test, lint, bundle, list and explain policies.

Each command loads the policies, calls one core function (gatekeeper.policy.testing, .lint,
.build, .explain) and turns its frozen result into output and an exit code: 0 clean, 1 the
check said no (a test failed, coverage below the threshold, a lint problem), 2 bad usage or
input, 3 a policy that does not compile or an engine failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from gatekeeper.cli.options import engine_option
from gatekeeper.config import load_config
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS
from gatekeeper.policy.build import build_bundle
from gatekeeper.policy.bundle import PolicyBundle, builtin_policy_dir, load_bundle
from gatekeeper.policy.controls import load_catalogue
from gatekeeper.policy.engines.registry import ENGINES, available_engines, get_engine
from gatekeeper.policy.explain import (
    describe_policies,
    find_policy,
    render_explain_markdown,
    render_explain_text,
    render_list_markdown,
    render_list_text,
)
from gatekeeper.policy.lint import lint_bundle
from gatekeeper.policy.testing import render_text, run_policy_tests

LOCAL_POLICY_DIR = "policy"
_FORMATS = click.Choice(["text", "markdown", "json"])


def default_policy_paths(given: tuple[str, ...]) -> tuple[str, ...]:
    """PATHS given, else ``policies`` from gatekeeper.yaml / GATEKEEPER_POLICY, else ./policy
    when it is a directory, else the built-in library."""
    if given:
        return given
    cwd = Path.cwd()
    config = load_config(None, cwd=cwd, env=os.environ)
    if config.policies:
        return tuple(str(p) for p in config.policies)
    if (cwd / LOCAL_POLICY_DIR).is_dir():
        return (LOCAL_POLICY_DIR,)
    return (str(builtin_policy_dir()),)


def _load(paths: tuple[str, ...], data: tuple[str, ...] = ()) -> PolicyBundle:
    return load_bundle(default_policy_paths(paths), data_paths=data)


def _catalogue_option(function: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--controls",
        "controls_file",
        type=click.Path(dir_okay=False),
        help="Control catalogue YAML to check control ids against. "
        "Default: the shipped one (SSDF 1.1, SLSA build levels, SOC 2 CC, OWASP SCVS).",
    )(function)


def _paths_argument(function: click.decorators.FC) -> click.decorators.FC:
    return click.argument("paths", nargs=-1, type=click.Path())(function)


@click.group()
def policy() -> None:
    """Work on policies: test, lint, bundle, list, explain.

    PATHS default to the `policies` of gatekeeper.yaml, else ./policy, else the built-in
    library.
    """


@policy.command("test")
@_paths_argument
@engine_option("Engine that runs the tests.")
@click.option(
    "--coverage",
    is_flag=True,
    help="Report line coverage of the policy modules, per file and in total. Measured with "
    "regorus (on regopy the same tests run a second time on regorus).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 100),
    help="Fail (exit 1) when total coverage is below this percentage. Implies --coverage.",
)
@click.option("--run", "run_filter", metavar="REGEX", help="Only tests whose package.rule matches.")
@click.option("-v", "--verbose", is_flag=True, help="List passing tests too.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format (json: gatekeeper.policy-test/v1).",
)
@click.option("-d", "--data", multiple=True, help="Extra data file or directory; repeatable.")
def test_command(
    paths: tuple[str, ...],
    engine: str,
    coverage: bool,
    threshold: float | None,
    run_filter: str | None,
    verbose: bool,
    format_: str,
    data: tuple[str, ...],
) -> None:
    """Run the `test_` rules of the policies in PATHS.

    Exit codes: 0 every test passed (and coverage meets the threshold), 1 a test failed, no
    test ran or coverage is below the threshold, 2 bad usage, 3 a policy does not compile.
    """
    report = run_policy_tests(
        _load(paths, data),
        engine=engine,
        coverage=coverage,
        threshold=threshold,
        run=run_filter,
    )
    if format_ == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_text(report, verbose=verbose))
    raise SystemExit(EXIT_PASS if report.ok else EXIT_FAIL)


@policy.command("lint")
@_paths_argument
@click.option(
    "--engine",
    "engines",
    type=click.Choice(sorted(ENGINES)),
    multiple=True,
    help="Engine(s) the policies must compile on; repeatable. Default: every embedded engine.",
)
@_catalogue_option
@click.option(
    "--format",
    "format_",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def lint_command(
    paths: tuple[str, ...],
    engines: tuple[str, ...],
    controls_file: str | None,
    format_: str,
) -> None:
    """Check that the policies compile and that every deny/violation/warn rule has METADATA
    with custom.id (unique), title, custom.severity and known custom.controls.

    Exit codes: 0 clean, 1 problems found (each printed as file:line: message), 2 bad usage,
    3 a policy does not compile.
    """
    catalogue = load_catalogue(Path(controls_file) if controls_file else None)
    result = lint_bundle(
        _load(paths),
        catalogue=catalogue,
        engines=[get_engine(name) for name in (engines or available_engines())],
    )
    if format_ == "json":
        doc = {
            "ok": result.ok,
            "engines": list(result.engines),
            "rules": result.rules,
            "problems": [
                {"file": p.file, "line": p.line, "code": p.code, "message": p.message}
                for p in result.problems
            ],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        for problem in result.problems:
            click.echo(str(problem))
        verdict = f"{len(result.problems)} problem(s)" if result.problems else "no problems"
        click.echo(
            f"{verdict} in {result.rules} rules of {result.modules} modules "
            f"(compiled on {', '.join(result.engines)})"
        )
    raise SystemExit(EXIT_PASS if result.ok else EXIT_FAIL)


@policy.command("bundle")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Bundle file to write (.tar.gz).",
)
@click.option(
    "--revision",
    help="Revision recorded in .manifest and in every decision made with the bundle. "
    "Default: the input bundle's revision, else sha256:<digest prefix> of the content.",
)
@click.option("--include-tests", is_flag=True, help="Also pack _test.rego modules.")
@click.option("-d", "--data", multiple=True, help="Extra data file or directory; repeatable.")
def bundle_command(
    paths: tuple[str, ...],
    output: str,
    revision: str | None,
    include_tests: bool,
    data: tuple[str, ...],
) -> None:
    """Build an OPA-compatible bundle (.manifest, data.json, modules) from PATHS.

    The same input always gives the same bytes. Exit codes: 0 written, 2 bad usage or input,
    3 a policy does not load.
    """
    built = build_bundle(
        paths, Path(output), revision=revision, include_tests=include_tests, data_paths=data
    )
    click.echo(
        f"wrote {built.path} ({built.size} bytes, {len(built.members)} members)\n"
        f"  revision {built.revision}\n"
        f"  roots    {', '.join(built.roots)}\n"
        f"  sha256   {built.sha256}"
    )


@policy.command("list")
@_paths_argument
@_catalogue_option
@click.option(
    "--format", "format_", type=_FORMATS, default="text", show_default=True, help="Output format."
)
def list_command(paths: tuple[str, ...], controls_file: str | None, format_: str) -> None:
    """List the policies in PATHS: id, severity, controls, title."""
    catalogue = load_catalogue(Path(controls_file) if controls_file else None)
    policies = describe_policies(_load(paths), catalogue)
    if format_ == "json":
        click.echo(json.dumps([p.to_dict() for p in policies], indent=2))
    elif format_ == "markdown":
        click.echo(render_list_markdown(policies))
    else:
        click.echo(render_list_text(policies))


@policy.command("explain")
@click.argument("policy_id")
@_paths_argument
@_catalogue_option
@click.option(
    "--format", "format_", type=_FORMATS, default="text", show_default=True, help="Output format."
)
def explain_command(
    policy_id: str, paths: tuple[str, ...], controls_file: str | None, format_: str
) -> None:
    """Explain POLICY_ID: what it checks, severity, controls, settings with defaults, and how
    to fix a failure. An unknown id exits 2 with the closest ids."""
    catalogue = load_catalogue(Path(controls_file) if controls_file else None)
    found = find_policy(describe_policies(_load(paths), catalogue), policy_id)
    if format_ == "json":
        click.echo(json.dumps(found.to_dict(), indent=2))
    elif format_ == "markdown":
        click.echo(render_explain_markdown(found))
    else:
        click.echo(render_explain_text(found))
