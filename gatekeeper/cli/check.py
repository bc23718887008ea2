"""``gatekeeper check``: conftest-compatible checks of configuration files.

The flags, output lines, summary and exit codes are conftest's (``conftest test``), so a CI job
can swap one command for the other; docs/conftest-compat.md lists the differences. Rendering
lives here because the results are conftest's shape, not a Gatekeeper decision.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import click

from gatekeeper.cli.options import engine_option, parsed_into, use_color
from gatekeeper.conftest.check import (
    DEFAULT_NAMESPACE,
    DEFAULT_POLICY,
    STDIN,
    CheckReport,
    CheckRequest,
    CheckResult,
    Message,
    run_check,
)
from gatekeeper.conftest.config import ConftestConfig, conftest_config
from gatekeeper.conftest.formats import EXTRA_OUTPUTS
from gatekeeper.conftest.parsers import parser_names
from gatekeeper.errors import ConfigError
from gatekeeper.evidence import DEFAULT_MAX_BYTES
from gatekeeper.policy.engines.opa_engine import opa_installed

OUTPUTS = ("stdout", "json", "table", *EXTRA_OUTPUTS.names())

# conftest colours with aurora: the label (or the summary) only.
_RED, _YELLOW, _CYAN, _GREEN, _BLUE = 31, 33, 36, 32, 34


def _paint(text: str, code: int, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _plural(word: str, count: int) -> str:
    return word if count == 1 else word + "s"


def summary_line(report: CheckReport) -> str:
    """conftest output/standard.go: "passed" is the one word it never pluralizes."""
    return (
        f"{report.tests} {_plural('test', report.tests)}, {report.successes} passed, "
        f"{report.warnings} {_plural('warning', report.warnings)}, "
        f"{report.failures} {_plural('failure', report.failures)}, "
        f"{report.exceptions} {_plural('exception', report.exceptions)}"
    )


def render_stdout(report: CheckReport, *, color: bool, suppress_exceptions: bool = False) -> str:
    lines: list[str] = []
    for result in report.results:
        for printed in result.outputs:
            # conftest prints each print() line with its own trailing newline, then another.
            lines.append(f"{_paint('PRNT ', _BLUE, color)}  {printed}\n")
    for result in report.results:
        file_part = "-" if result.filename == STDIN else f"- {result.filename}"
        ns_part = f"- {result.namespace} -"
        groups: list[tuple[str, int, tuple[Message, ...]]] = [
            ("WARN", _YELLOW, result.warnings),
            ("FAIL", _RED, result.failures),
        ]
        if not suppress_exceptions:
            groups.append(("EXCP", _CYAN, result.exceptions))
        for label, code, messages in groups:
            for message in messages:
                lines.append(f"{_paint(label, code, color)} {file_part} {ns_part} {message.msg}")
    if report.failures:
        code = _RED
    elif report.warnings:
        code = _YELLOW
    elif report.exceptions:
        code = _CYAN
    else:
        code = _GREEN
    lines.append("")
    lines.append(_paint(summary_line(report), code, color))
    return "\n".join(lines) + "\n"


def _sorted_maps(value: Any) -> Any:
    """Go's encoding/json writes map keys sorted (struct fields keep their order)."""
    if isinstance(value, dict):
        return {k: _sorted_maps(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_maps(v) for v in value]
    return value


def _message_json(message: Message) -> dict[str, Any]:
    item: dict[str, Any] = {"msg": message.msg}
    if message.loc is not None:
        loc: dict[str, Any] = {}
        if message.loc.file:
            loc["file"] = message.loc.file
        if message.loc.line is not None:
            loc["line"] = message.loc.line
        item["loc"] = loc
    if message.metadata:
        item["metadata"] = _sorted_maps(dict(message.metadata))
    return item


def _result_json(result: CheckResult) -> dict[str, Any]:
    # Field order and omitempty as conftest's output.CheckResult; stdin's name is "".
    item: dict[str, Any] = {
        "filename": "" if result.filename == STDIN else result.filename,
        "namespace": result.namespace,
        "successes": result.successes,
    }
    for key, messages in (
        ("warnings", result.warnings),
        ("failures", result.failures),
        ("exceptions", result.exceptions),
    ):
        if messages:
            item[key] = [_message_json(m) for m in messages]
    return item


def render_json(report: CheckReport) -> str:
    text = json.dumps([_result_json(r) for r in report.results], indent="\t", ensure_ascii=False)
    # Go's encoder escapes these even inside strings; match it byte for byte.
    for raw, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text + "\n"


def _table_rows(report: CheckReport) -> Iterable[tuple[str, str, str, str]]:
    for r in report.results:
        yield from (("success", r.filename, r.namespace, "SUCCESS") for _ in range(r.successes))
        yield from (("exception", r.filename, r.namespace, m.msg) for m in r.exceptions)
        yield from (("warning", r.filename, r.namespace, m.msg) for m in r.warnings)
        yield from (("failure", r.filename, r.namespace, m.msg) for m in r.failures)


def render_table(report: CheckReport) -> str:
    """conftest's table output (tablewriter box drawing); no rows, no output."""
    rows = list(_table_rows(report))
    if not rows:
        return ""
    header = ("RESULT", "FILE", "NAMESPACE", "MESSAGE")
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def rule(left: str, mid: str, right: str) -> str:
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def centred(text: str, width: int) -> str:
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)

    lines = [rule("┌", "┬", "┐")]
    lines.append(
        "│" + "│".join(f" {centred(h, w)} " for h, w in zip(header, widths, strict=True)) + "│"
    )
    lines.append(rule("├", "┼", "┤"))
    for row in rows:
        lines.append(
            "│" + "│".join(f" {c.ljust(w)} " for c, w in zip(row, widths, strict=True)) + "│"
        )
    lines.append(rule("└", "┴", "┘"))
    return "\n".join(lines) + "\n"


def _split_commas(values: Iterable[str]) -> tuple[str, ...]:
    """conftest's list flags also accept comma-separated values (`-n main,k8s`)."""
    return tuple(part for value in values for part in value.split(",") if part)


def _check_output(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if value in OUTPUTS:
        return value
    raise ConfigError(f"--output: unknown format '{value}' (choose from {', '.join(OUTPUTS)})")


@dataclass(frozen=True)
class CheckOptions:
    """``check``'s command line, parsed: one field per option (click's parameter names)."""

    files: tuple[str, ...]
    policies: tuple[str, ...]
    data: tuple[str, ...]
    namespaces: tuple[str, ...]
    all_namespaces: bool
    fail_on_warn: bool
    no_fail: bool
    no_color: bool
    suppress_exceptions: bool
    quiet: bool
    output: str
    parser: str | None
    combine: bool
    ignore: str | None
    stdin_filename: str | None
    rego_version: str
    trace: bool
    capabilities: str | None
    strict: bool
    show_builtin_errors: bool
    proto_file_dirs: tuple[str, ...]
    update: tuple[str, ...]
    config_file: str | None
    engine: str | None

    def request(self, stdin: bytes | None, config: ConftestConfig) -> CheckRequest:
        """The core's request: flags first, then conftest.toml, then conftest's defaults."""
        return CheckRequest(
            files=self.files,
            policies=_split_commas(self.policies) or config.policies or (DEFAULT_POLICY,),
            data=_split_commas(self.data) or config.data,
            namespaces=_split_commas(self.namespaces) or config.namespaces or (DEFAULT_NAMESPACE,),
            all_namespaces=self.all_namespaces or config.all_namespaces,
            parser=self.parser,
            combine=self.combine,
            ignore=self.ignore,
            stdin=stdin,
            stdin_filename=self.stdin_filename,
            engine=self.engine or default_check_engine(),
            trace=self.trace,
            capabilities=self.capabilities,
            proto_dirs=_split_commas(self.proto_file_dirs),
        )


@click.command("check")
@click.argument("files", nargs=-1, required=True)
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help=f"Policy directory, .rego file or bundle; repeatable or comma-separated. "
    f"Default: {DEFAULT_POLICY}.",
)
@click.option(
    "-d",
    "--data",
    "data",
    multiple=True,
    help="Data file or directory (JSON/YAML) for the policies; repeatable or comma-separated.",
)
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Package to evaluate; globs (*, ?, [...]) allowed; repeatable. "
    f"Default: {DEFAULT_NAMESPACE}. A name matching no package is an error.",
)
@click.option("--all-namespaces", is_flag=True, help="Evaluate every package of the policies.")
@click.option(
    "--fail-on-warn",
    is_flag=True,
    help="Exit 1 on warnings, and 2 (not 1) on failures, as conftest does.",
)
@click.option(
    "--no-fail", is_flag=True, help="Exit 0 even when policies fail (errors still exit 2 or 3)."
)
@click.option(
    "--no-color",
    is_flag=True,
    help="No ANSI colour (also: NO_COLOR env var, or when stdout is not a terminal).",
)
@click.option(
    "--suppress-exceptions", is_flag=True, help="Leave EXCP lines out (they are still counted)."
)
@click.option("--quiet", is_flag=True, help="Print nothing when the exit code is 0.")
@click.option(
    "-o",
    "--output",
    "output",
    default="stdout",
    show_default=True,
    callback=_check_output,
    help=f"Output format: {', '.join(OUTPUTS)} (conftest's layouts).",
)
@click.option(
    "--parser",
    type=click.Choice(parser_names()),
    help="Parse every input as this format instead of by file extension (stdin: yaml).",
)
@click.option(
    "--combine",
    is_flag=True,
    help="Evaluate all inputs as one document: a list of {path, contents}, file name Combined.",
)
@click.option("--ignore", help="Regular expression of paths to skip when walking directories.")
@click.option("--stdin-filename", help="File name to show for input read from stdin (`-`).")
@click.option(
    "--rego-version",
    type=click.Choice(["v1", "V1"]),
    default="v1",
    help="Rego syntax of the policies; only v1 (conftest's default) is supported.",
)
@click.option("--trace", is_flag=True, help="Print OPA's evaluation trace (opa engine).")
@click.option(
    "--capabilities",
    type=click.Path(dir_okay=False),
    help="OPA capabilities JSON: policies calling builtins it does not list are refused.",
)
@click.option(
    "--strict", is_flag=True, help="conftest's strict compile mode: not supported (exit 2)."
)
@click.option(
    "--show-builtin-errors",
    is_flag=True,
    help="Accepted: builtin errors are always errors in Gatekeeper (fail closed).",
)
@click.option(
    "--proto-file-dirs",
    multiple=True,
    help="Directories of .proto files declaring the message types of textproto inputs.",
)
@click.option("--update", multiple=True, help="conftest's policy download: refused (offline).")
@click.option(
    "-c",
    "--config-file",
    type=click.Path(dir_okay=False),
    help="conftest.toml with defaults for policy, namespace, data ... (default: ./conftest.toml).",
)
@engine_option(default=None)
@parsed_into(CheckOptions)
def check(options: CheckOptions) -> None:
    """Check configuration FILES (JSON/YAML, `-` for stdin, directories) against conftest-style
    policies: a drop-in for `conftest test`.

    `deny`/`violation` rules fail, `warn` rules warn, `exception` rules exempt. Exit codes:
    0 pass; 1 failures (with --fail-on-warn: 1 warnings, 2 failures); 2 bad usage or bad
    input; 3 policy or engine error.
    """
    if options.strict:
        raise ConfigError("--strict (OPA's strict compile checks) is not supported")
    if options.update:
        raise ConfigError("--update downloads policies; gatekeeper check runs offline only")
    config = conftest_config(options.config_file or _group_config(click.get_current_context()))
    # One byte past the bound, so the core can tell the input was too big.
    stdin = sys.stdin.buffer.read(DEFAULT_MAX_BYTES + 1) if STDIN in options.files else None
    report = run_check(options.request(stdin, config))
    code = report.exit_code(fail_on_warn=options.fail_on_warn or config.fail_on_warn)
    if options.trace and report.trace:
        click.echo("\n".join(report.trace))
    if not options.quiet or code != 0:
        output = options.output
        if output in EXTRA_OUTPUTS:
            text = EXTRA_OUTPUTS.create(output)(report)
        elif output == "json":
            text = render_json(report)
        elif output == "table":
            text = render_table(report)
        else:
            text = render_stdout(
                report,
                color=use_color(options.no_color),
                suppress_exceptions=options.suppress_exceptions,
            )
        click.echo(text, nl=False)
    raise SystemExit(0 if options.no_fail or config.no_fail else code)


def default_check_engine() -> str:
    """``check`` evaluates on real OPA when it is installed (config files are small and
    fidelity to conftest matters most), else on regorus."""
    return "opa" if opa_installed() else "regorus"


def _group_config(ctx: click.Context) -> str | None:
    """``gatekeeper conftest -c FILE test ...``: the group's --config-file."""
    parent = ctx.parent
    found = parent.params.get("config_file") if parent is not None else None
    return str(found) if found else None
