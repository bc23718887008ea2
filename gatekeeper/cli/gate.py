"""``gatekeeper gate``: judge a release against policies."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gatekeeper.cli import retain_freed_memory
from gatekeeper.cli.audit import gate_ledger_options, record_gate_decision
from gatekeeper.cli.options import parse_outputs, parsed_into, use_color, write_reports
from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS, ConfigError, GatekeeperError
from gatekeeper.evidence import READERS, gc_paused
from gatekeeper.gate.decide import error_decision, void_decision
from gatekeeper.gate.run import GateRequest, run_gate
from gatekeeper.gate.waivers import default_waivers_path
from gatekeeper.ledger.store import compress_ahead
from gatekeeper.model import Decision, Level, Outcome
from gatekeeper.policy.engines.opa_server_engine import URL_ENV as OPA_URL_ENV
from gatekeeper.policy.engines.registry import ENGINES
from gatekeeper.report.registry import REPORTERS, get_reporter


@dataclass(frozen=True)
class GateRunOptions:
    """``gate run``'s command line, parsed: one field per option (click's parameter names)."""

    evidence: tuple[str, ...]
    policies: tuple[str, ...]
    data: tuple[str, ...]
    release_file: str | None
    waivers_file: str | None
    engine: str | None
    namespaces: tuple[str, ...]
    format_: str | None
    outputs: tuple[str, ...]
    fail_on: str | None
    kind: str | None
    validate: bool | None
    config_file: str | None
    no_color: bool
    ledger: str | None
    no_ledger: bool
    server: str | None
    timeout: float | None = None
    opa_url: str | None = None

    def config(self, *, cwd: Path, env: Mapping[str, str]) -> GatekeeperConfig:
        """gatekeeper.yaml and GATEKEEPER_* with these options on top (flags win)."""
        loaded = load_config(Path(self.config_file) if self.config_file else None, cwd=cwd, env=env)
        return loaded.with_overrides(
            policies=list(self.policies) or None,
            data=list(self.data) or None,
            release=self.release_file,
            waivers=self.waivers_file,
            engine=self.engine,
            namespaces=list(self.namespaces) or None,
            format=self.format_,
            fail_on=self.fail_on,
            validate=self.validate,
            evidence=list(self.evidence) or None,
            engine_timeout=self.timeout,
        )

    def input_paths(self) -> list[Path]:
        """The input files named on the command line (before gatekeeper.yaml is read)."""
        named = (*self.evidence, *self.policies, *self.data)
        optional = (self.release_file, self.waivers_file, self.config_file)
        return [Path(p) for p in (*named, *(p for p in optional if p))]

    def gate_request(
        self, config: GatekeeperConfig, *, cwd: Path, env: Mapping[str, str]
    ) -> GateRequest:
        return GateRequest(
            evidence=tuple(str(p) for p in config.evidence),
            policies=tuple(str(p) for p in config.policies),
            data=tuple(str(p) for p in config.data),
            release_file=str(config.release) if config.release else None,
            waivers_file=str(config.waivers) if config.waivers else None,
            engine=config.engine,
            namespaces=tuple(config.namespaces),
            fail_on=Level(config.fail_on),
            kind=self.kind,
            validate=config.validate_evidence,
            max_waiver_days=config.max_waiver_days,
            timeout=config.engine_timeout,
            allow_network_builtins=config.allow_network_builtins,
            evidence_requirements=config.evidence_requirements,
            env=dict(env),
            cwd=cwd,
            # Recorded: the input blob is compressed while the engine evaluates.
            prepare_input=None if self.no_ledger else compress_ahead,
        )


@click.group()
def gate() -> None:
    """Run the gate on a release's evidence."""


@gate.command("run")
# Paths are checked by the bounded loader (one line naming the file), not by click's usage text.
@click.argument("evidence", nargs=-1, type=click.Path(readable=False))
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    help="Policy directory, .rego file or bundle (.tar.gz); repeatable. "
    "Default: the built-in library.",
)
@click.option(
    "-d",
    "--data",
    "data",
    multiple=True,
    help="Data file or directory for policies (JSON/YAML); repeatable.",
)
@click.option(
    "--release",
    "release_file",
    type=click.Path(readable=False),
    help="Release metadata file (YAML/JSON): service, version, commit, "
    "artifact_digest, environment, ...",
)
@click.option(
    "--waivers",
    "waivers_file",
    type=click.Path(readable=False),
    help="Waivers file. Default: .gatekeeper/waivers.yaml when present.",
)
@click.option("--engine", type=click.Choice(sorted(ENGINES)), help="Rego engine. Default: regorus.")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Only evaluate packages matching this glob; repeatable.",
)
@click.option(
    "--format",
    "format_",
    type=click.Choice(sorted(REPORTERS)),
    help="Output format on stdout. Default: table.",
)
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="FORMAT=PATH",
    help="Also write a report in FORMAT to PATH; repeatable.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["deny", "warn"]),
    help="Fail on deny violations only (default) or on warnings too.",
)
@click.option(
    "--kind",
    type=click.Choice(sorted(READERS)),
    help="Read every evidence file as this kind instead of detecting it.",
)
@click.option(
    "--validate/--no-validate",
    default=None,
    help="Validate SBOMs against the official CycloneDX schemas.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(readable=False),
    help="Configuration file. Default: ./gatekeeper.yaml when present.",
)
@click.option(
    "--timeout",
    type=float,
    metavar="SECONDS",
    help="Wall-clock limit of each engine call. Default: 30 (engine_timeout).",
)
@click.option(
    "--no-color",
    is_flag=True,
    help="No ANSI colour (also: NO_COLOR env var, or when not a terminal).",
)
@click.option(
    "--opa-url",
    metavar="URL",
    help="The OPA-compatible server of --engine opa-server (also GATEKEEPER_OPA_URL; token: "
    "GATEKEEPER_OPA_TOKEN). It must hold the same policy modules as this run.",
)
@gate_ledger_options
@click.option(
    "--server",
    envvar="GATEKEEPER_SERVER",
    metavar="URL",
    help="Submit to the decision service at URL instead of judging here: it judges with its "
    "policies, signs and records; needs GATEKEEPER_TOKEN and GATEKEEPER_SERVER_PUBLIC_KEY.",
)
@parsed_into(GateRunOptions)
def run(options: GateRunOptions) -> None:
    """Judge EVIDENCE (SBOMs, scanner reports, VEX, attestations) against Rego policies.

    Exit codes: 0 pass (or warnings only), 1 the policy said no, 2 bad usage or bad input,
    3 policy or engine error.
    """
    previous = terminate_cleanly()
    retain_freed_memory()
    try:
        # The cyclic collector stays paused for the whole command, not only while ingesting
        # and recording, and what the run built is then frozen out of its passes: objects
        # allocated while it is paused all sit in its youngest generation, so the first pass
        # after re-enabling it scanned the whole run's heap (76-100 ms at L, 0.4 s at XL).
        # The command ends the process (os._exit, see cli.run); reference counting still
        # frees everything that is not in a cycle.
        with gc_paused():
            try:
                _run(options)
            finally:
                gc.freeze()
    finally:
        for signum, handler in previous.items():  # in-process callers get theirs back
            signal.signal(signum, handler)


def _run(options: GateRunOptions) -> None:
    cwd = Path.cwd()
    if options.opa_url:  # the opa-server engine reads its server from the environment
        os.environ[OPA_URL_ENV] = options.opa_url
    # Reports are written on errors too (one error result each), but only to paths checked not
    # to be one of the run's inputs: an error report must not overwrite the evidence either.
    safe_outputs: dict[str, Path] = {}
    result = None
    try:
        flag_outputs = parse_outputs(options.outputs)
        refuse_overwriting_inputs(flag_outputs, options.input_paths())
        safe_outputs = flag_outputs
        config = options.config(cwd=cwd, env=os.environ)
        extra_outputs = {name: Path(path) for name, path in (config.outputs or {}).items()}
        extra_outputs.update(flag_outputs)
        request = options.gate_request(config, cwd=cwd, env=os.environ)
        refuse_overwriting_inputs(extra_outputs, gate_input_paths(request, config))
        safe_outputs = extra_outputs
        reporter = get_reporter(config.format)
        if options.server:  # judged, signed and recorded by the decision service (docs/server.md)
            from gatekeeper.server.client import submit

            served = submit(
                options.server,
                evidence=request.evidence,
                release_file=request.release_file,
                env=os.environ,
                cwd=cwd,
            )
            decision = served.decision
        else:
            result = run_gate(request)
            decision = result.decision
    except GatekeeperError as error:
        write_error_reports(error_decision(error.one_line()), safe_outputs)
        raise
    if result is not None:
        try:
            record_gate_decision(
                result, ledger=options.ledger, no_ledger=options.no_ledger, config=config
            )
        except GatekeeperError as error:
            # Say plainly that the verdict does not count: never print "pass" before exit 3.
            void = void_decision(decision, f"decision void: not recorded in the ledger: {error}")
            write_error_reports(void, safe_outputs)
            click.echo(reporter.render(void, color=use_color(options.no_color)).rstrip("\n"))
            raise
    write_reports(decision, extra_outputs)
    text = reporter.render(decision, color=use_color(options.no_color))
    click.echo(text.rstrip("\n"))
    raise SystemExit(EXIT_FAIL if decision.outcome is Outcome.FAIL else EXIT_PASS)


def terminate_cleanly() -> dict[int, Any]:
    """SIGTERM/SIGHUP (CI cancelling the job) end the run like Ctrl-C does: as an exception,
    so the engine workers are killed and the input's temporary file is removed on the way out
    (Python's default for SIGTERM is to die on the spot, leaving both behind)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGHUP)}


def write_error_reports(decision: Decision, outputs: dict[str, Path]) -> None:
    """Best effort: the error being reported is the one the user must see, not a second one
    about an unwritable report."""
    with contextlib.suppress(GatekeeperError):
        write_reports(decision, outputs)


def gate_input_paths(request: GateRequest, config: GatekeeperConfig) -> list[Path]:
    """Every file the run reads: evidence, release, waivers, policies, data, config."""
    paths = [Path(p) for p in (*request.evidence, *request.policies, *request.data)]
    paths += [Path(p) for p in (request.release_file, request.waivers_file) if p]
    if request.waivers_file is None:
        default = default_waivers_path(request.cwd)
        if default:
            paths.append(default)
    if config.config_path:
        paths.append(config.config_path)
    return paths


def refuse_overwriting_inputs(outputs: Mapping[str, Path], inputs: Sequence[Path]) -> None:
    """A report path that is one of the inputs (or inside an input directory) is bad usage:
    writing it would destroy the evidence the decision was made from."""
    for name, output in outputs.items():
        for given in inputs:
            if _same_or_inside(output, given):
                raise ConfigError(
                    f"--output {name}={output}: refusing to overwrite an input of this run "
                    f"({given}); write the report somewhere else",
                    path=str(output),
                )


def _same_or_inside(output: Path, given: Path) -> bool:
    try:
        if output.exists() and given.exists() and output.samefile(given):
            return True
        resolved, root = output.resolve(), given.resolve()
    except OSError:
        return False
    return resolved == root or (root.is_dir() and resolved.is_relative_to(root))
