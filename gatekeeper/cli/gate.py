"""``gatekeeper gate``: judge a release against policies."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from gatekeeper.cli.audit import gate_ledger_options, record_gate_decision
from gatekeeper.cli.options import parse_outputs, parsed_into, use_color, write_reports
from gatekeeper.config import GatekeeperConfig, load_config
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS
from gatekeeper.evidence import READERS
from gatekeeper.gate.run import GateRequest, run_gate
from gatekeeper.model import Level, Outcome
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
        )

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
            env=dict(env),
            cwd=cwd,
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
    "--no-color",
    is_flag=True,
    help="No ANSI colour (also: NO_COLOR env var, or when not a terminal).",
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
    cwd = Path.cwd()
    config = options.config(cwd=cwd, env=os.environ)
    extra_outputs = {name: Path(path) for name, path in (config.outputs or {}).items()}
    extra_outputs.update(parse_outputs(options.outputs))
    reporter = get_reporter(config.format)

    request = options.gate_request(config, cwd=cwd, env=os.environ)
    if options.server:  # judged, signed and recorded by the decision service (docs/server.md)
        from gatekeeper.server.client import submit

        served = submit(
            options.server,
            evidence=request.evidence,
            release_file=request.release_file,
            env=os.environ,
            cwd=cwd,
        )
        decision, result = served.decision, None
    else:
        result = run_gate(request)
        decision = result.decision
    write_reports(decision, extra_outputs)
    text = reporter.render(decision, color=use_color(options.no_color))
    click.echo(text.rstrip("\n"))
    if result is not None:
        record_gate_decision(
            result, ledger=options.ledger, no_ledger=options.no_ledger, config=config
        )
    raise SystemExit(EXIT_FAIL if decision.outcome is Outcome.FAIL else EXIT_PASS)
