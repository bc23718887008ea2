"""``gatekeeper policy impact``: which recorded decisions a candidate policy would change.

Exit codes: 0 no release would newly fail, 1 at least one would (so a policy pull request can
be gated on it), 2 bad usage, 3 ledger, policy or engine error.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import click

from gatekeeper.audit.impact import ImpactEntry, ImpactResult, impact
from gatekeeper.audit.replay import comparison_document
from gatekeeper.cli.audit import ledger_options, open_ledger
from gatekeeper.errors import EXIT_FAIL, EXIT_PASS, ConfigError
from gatekeeper.ledger.canonical import timestamp
from gatekeeper.policy.bundle import load_bundle
from gatekeeper.policy.engines.registry import ENGINES

_DURATION = re.compile(r"^(\d+)([hdw])$")


def since_timestamp(value: str | None, *, now: datetime) -> str | None:
    """``30d``/``12h``/``2w`` before ``now``, or an ISO date/time as given."""
    if value is None:
        return None
    match = _DURATION.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"h": timedelta(hours=amount), "d": timedelta(days=amount)}.get(
            unit, timedelta(weeks=amount)
        )
        return timestamp(now - delta)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--since expects a duration like 30d, 12h, 2w or an ISO date, got {value!r}"
        ) from None
    return timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _name(entry: ImpactEntry) -> str:
    release = entry.release
    parts = [str(release[k]) for k in ("service", "version", "environment") if release.get(k)]
    return " ".join(parts) or entry.decision_id


def impact_text(result: ImpactResult) -> str:
    lines = [
        f"candidate {result.candidate} ({result.candidate_digest})",
        f"{result.examined} recorded releases replayed: {len(result.new_failures)} would newly "
        f"fail, {len(result.fixed_failures)} would be fixed, "
        f"{len(result.entries) - len(result.new_failures) - len(result.fixed_failures)} "
        "other changes",
    ]
    for entry in result.entries:
        comparison = entry.comparison
        lines.append(
            f"{entry.change.upper()}: {_name(entry)} — {comparison.recorded.outcome.value} -> "
            f"{comparison.replayed.outcome.value} (decision {entry.decision_id})"
        )
        for policy, _rule, subject, message, _level in comparison.added:
            lines.append(f"  + {policy}: {message}" + (f" ({subject})" if subject else ""))
        for policy, _rule, subject, message, _level in comparison.removed:
            lines.append(f"  - {policy}: {message}" + (f" ({subject})" if subject else ""))
    lines += [f"skipped: {line}" for line in result.skipped]
    return "\n".join(lines)


@click.command("impact")
@click.option(
    "--candidate",
    "candidates",
    multiple=True,
    required=True,
    help="Candidate policy directory, .rego file or bundle (.tar.gz); repeatable.",
)
@click.option(
    "-d", "--data", "data", multiple=True, help="Data file or directory for the candidate."
)
@click.option(
    "--since",
    help="Only decisions recorded in this period: 30d, 12h, 2w, or an ISO date. Default: all.",
)
@click.option("--service", help="Only this service's decisions.")
@click.option(
    "--engine",
    type=click.Choice(sorted(ENGINES)),
    help="Evaluate with this engine. Default: each decision's recorded engine.",
)
@click.option(
    "--all",
    "every_decision",
    is_flag=True,
    help="Replay every decision, not only the latest of each release.",
)
@ledger_options
@click.option(
    "--format", "format_", type=click.Choice(["text", "json"]), default="text", help="Output."
)
def impact_command(
    candidates: tuple[str, ...],
    data: tuple[str, ...],
    since: str | None,
    service: str | None,
    engine: str | None,
    every_decision: bool,
    ledger: str | None,
    config_file: str | None,
    format_: str,
) -> None:
    """Replay recorded releases against a candidate policy bundle before rolling it out.

    Lists the decisions that would change: new failures, fixed failures and other changes.
    Waivers, time and fail-on level are those each decision recorded, so only the policy
    change shows. Exit 1 when some release would newly fail.
    """
    bundle = load_bundle(candidates, data_paths=data)
    start = since_timestamp(since, now=datetime.now(UTC))
    store = open_ledger(ledger, config_file)
    try:
        result = impact(
            store,
            bundle,
            since=start,
            service=service,
            engine=engine,
            every_decision=every_decision,
        )
    finally:
        store.close()
    if format_ == "json":
        document = {
            "candidate": result.candidate,
            "candidate_digest": result.candidate_digest,
            "examined": result.examined,
            "changes": [
                {
                    "change": e.change,
                    "decision_id": e.decision_id,
                    "recorded_at": e.recorded_at,
                    "release": e.release,
                    **comparison_document(e.comparison),
                }
                for e in result.entries
            ],
            "skipped": list(result.skipped),
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(impact_text(result))
    raise SystemExit(EXIT_FAIL if result.new_failures else EXIT_PASS)
