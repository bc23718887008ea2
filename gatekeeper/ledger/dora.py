"""DORA's four keys from the ledger: deployment frequency, lead time for changes, change
failure rate and time to restore (DORA now calls it "failed deployment recovery time"), per
service and overall, each with its performance band, the records it was computed from, and
what is missing when it cannot be computed. A key without data is ``null`` with the reason:
never a made-up number. Definitions: docs/dora.md.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gatekeeper.ledger.canonical import timestamp
from gatekeeper.ledger.deployments import DEPLOY_KIND_PREFIX, is_gate_decision
from gatekeeper.ledger.incidents import INCIDENT_OPENED, INCIDENT_RESOLVED
from gatekeeper.ledger.store import LedgerStore, StoredRecord

DORA_SCHEMA = "gatekeeper.dora/v1"
DAY = 86400.0
HOUR = 3600.0
WEEK = 7 * DAY
MONTH = 30 * DAY
KEYS = ("deployment_frequency", "lead_time_for_changes", "change_failure_rate", "time_to_restore")
BANDS_SOURCE = (
    "DORA performance clusters (Accelerate State of DevOps 2023, the four keys): elite, "
    "high, medium, low; boundaries in docs/dora.md"
)


def parse_moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# The bands: each key's value against DORA's cluster boundaries (docs/dora.md).
def frequency_band(per_day: float) -> str:
    if per_day >= 1.0:  # on demand: daily or more often
        return "elite"
    if per_day * 7 >= 1.0:  # between once per day and once per week
        return "high"
    if per_day * 30 >= 1.0:  # between once per week and once per month
        return "medium"
    return "low"


def lead_time_band(seconds: float) -> str:
    if seconds < DAY:
        return "elite"
    if seconds < WEEK:
        return "high"
    if seconds < MONTH:
        return "medium"
    return "low"


def failure_rate_band(rate: float) -> str:
    if rate <= 0.05:
        return "elite"
    if rate <= 0.10:
        return "high"
    if rate <= 0.15:
        return "medium"
    return "low"


def restore_band(seconds: float) -> str:
    if seconds < HOUR:
        return "elite"
    if seconds < DAY:
        return "high"
    if seconds < WEEK:
        return "medium"
    return "low"


@dataclass
class Deployment:
    deployment_id: str
    service: str
    environment: str
    version: str | None
    artifact_digest: str | None
    gate_decision_id: str | None
    started_at: str | None = None
    promoted_at: str | None = None
    rolled_back_at: str | None = None
    restored_at: str | None = None
    restores: str | None = None  # a rollback to an earlier version: the version it undoes
    seqs: list[int] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    undone_by: str | None = None  # the rollback deployment that undid it after promotion


@dataclass
class Incident:
    incident_id: str
    deployment_id: str
    service: str
    opened_at: str
    resolved_at: str | None = None
    seqs: list[int] = field(default_factory=list)


@dataclass
class _History:
    deployments: dict[str, Deployment] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    commit_times: dict[str, tuple[str, int]] = field(default_factory=dict)  # decision id
    digest_commits: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)


def _read(records: Iterable[StoredRecord]) -> _History:
    history = _History()
    for record in records:
        doc = record.document()
        kind = str(doc.get("kind", "gate.decision"))
        release: Mapping[str, Any] = doc.get("release") or {}
        if is_gate_decision(doc):
            judged = (doc.get("decision") or {}).get("release") or {}
            commit = release.get("commit_time") or judged.get("commit_time")
            if isinstance(commit, str) and commit:
                history.commit_times[record.decision_id] = (commit, record.seq)
                digest = release.get("artifact_digest")
                if isinstance(digest, str):
                    history.digest_commits.setdefault(digest, []).append(
                        (record.recorded_at, commit, record.seq)
                    )
            continue
        if not kind.startswith(DEPLOY_KIND_PREFIX):
            continue
        details: Mapping[str, Any] = doc.get("deployment") or {}
        if kind in (INCIDENT_OPENED, INCIDENT_RESOLVED):
            _incident(history, kind, record, details, release)
            continue
        deployment_id = details.get("deployment_id")
        if not isinstance(deployment_id, str) or kind == "deploy.refused":
            continue
        found = history.deployments.get(deployment_id)
        if found is None:
            found = Deployment(
                deployment_id=deployment_id,
                service=str(release.get("service") or record.service or ""),
                environment=str(release.get("environment") or ""),
                version=release.get("version"),
                artifact_digest=release.get("artifact_digest"),
                gate_decision_id=details.get("gate_decision_id"),
            )
            history.deployments[deployment_id] = found
        found.seqs.append(record.seq)
        found.started_at = (
            found.started_at
            or details.get("started_at")
            or (record.recorded_at if kind == "deploy.started" else None)
        )
        outcome = doc.get("outcome")
        ended = kind in ("deploy.promoted", "deploy.rolled_back", "deploy.recovered")
        if ended and outcome == "promoted":
            found.promoted_at = details.get("promoted_at") or record.recorded_at
        elif ended and outcome == "rolled_back":
            found.rolled_back_at = details.get("rolled_back_at") or record.recorded_at
            found.restored_at = details.get("restored_at") or found.rolled_back_at
            undone = details.get("rolled_back_version")
            if (
                isinstance(undone, str)
                and details.get("restored_version") == found.version
                and undone != found.version
            ):
                found.restores = undone
    return history


def _incident(
    history: _History,
    kind: str,
    record: StoredRecord,
    details: Mapping[str, Any],
    release: Mapping[str, Any],
) -> None:
    incident_id = details.get("incident_id")
    if not isinstance(incident_id, str):
        return
    if kind == INCIDENT_OPENED:
        history.incidents[incident_id] = Incident(
            incident_id=incident_id,
            deployment_id=str(details.get("deployment_id") or ""),
            service=str(release.get("service") or record.service or ""),
            opened_at=str(details.get("opened_at") or record.recorded_at),
            seqs=[record.seq],
        )
    elif incident_id in history.incidents:
        incident = history.incidents[incident_id]
        incident.resolved_at = str(details.get("resolved_at") or record.recorded_at)
        incident.seqs.append(record.seq)


def _link(history: _History) -> None:
    """Rollbacks after promotion mark the deployment they undid; incidents mark theirs."""
    by_start = sorted(history.deployments.values(), key=lambda d: d.started_at or "")
    for undo in by_start:
        if undo.restores is None:
            continue
        earlier = [
            d
            for d in by_start
            if d.service == undo.service
            and d.environment == undo.environment
            and d.version == undo.restores
            and d.promoted_at is not None
            and d.promoted_at <= (undo.started_at or "")
        ]
        if earlier:
            earlier[-1].undone_by = undo.deployment_id
    for incident in history.incidents.values():
        target = history.deployments.get(incident.deployment_id)
        if target is not None:
            target.incidents.append(incident.incident_id)


def _commit_time(history: _History, deployment: Deployment) -> tuple[str, int] | None:
    if deployment.gate_decision_id and deployment.gate_decision_id in history.commit_times:
        return history.commit_times[deployment.gate_decision_id]
    if deployment.artifact_digest:
        before = [
            (commit, seq)
            for recorded, commit, seq in history.digest_commits.get(deployment.artifact_digest, [])
            if recorded <= (deployment.started_at or "~")
        ]
        if before:
            return before[-1]
    return None


def _seconds(later: str, earlier: str) -> float:
    return (parse_moment(later) - parse_moment(earlier)).total_seconds()


def _keys(
    history: _History, deployments: list[Deployment], days: float, name: str
) -> dict[str, Any]:
    """The four keys of ``deployments`` (the rollouts of one scope in the period)."""
    changes = [d for d in deployments if d.restores is None]
    promoted = [d for d in changes if d.promoted_at is not None]
    finished = [d for d in changes if d.promoted_at is not None or d.rolled_back_at is not None]
    in_flight = [d for d in changes if d.promoted_at is None and d.rolled_back_at is None]

    # Deployment frequency: successful deployments (promoted) per day of the period.
    frequency: dict[str, Any] = {
        "value": None,
        "unit": "deployments per day",
        "band": None,
        "deployments": len(promoted),
        "days": round(days, 4),
        "records": sorted(d.seqs[-1] for d in promoted),
        "deployment_ids": [d.deployment_id for d in promoted],
        "missing": [],
    }
    if days < 1:
        # A daily rate extrapolated from part of a day is not a measurement.
        frequency["missing"].append(
            f"the period ({days:.2f} days) is shorter than a day: give --from/--to a day or more"
        )
    elif not changes:
        frequency["missing"].append(f"no deployment of {name} is recorded in the period")
    else:
        per_day = len(promoted) / days
        frequency.update(value=round(per_day, 4), band=frequency_band(per_day))
        frequency["per_week"] = round(per_day * 7, 4)

    # Lead time for changes: commit time (from the gate decision) to promotion.
    samples: list[float] = []
    lead_records: list[int] = []
    lead_missing: list[str] = []
    for deployment in promoted:
        commit = _commit_time(history, deployment)
        if commit is None:
            lead_missing.append(
                f"deployment {deployment.deployment_id} ({deployment.service} "
                f"{deployment.version}): its gate decision records no commit_time"
            )
            continue
        samples.append(_seconds(deployment.promoted_at or commit[0], commit[0]))
        lead_records.extend([commit[1], deployment.seqs[-1]])
    lead = _median_key(samples, lead_records, lead_missing, lead_time_band)
    if not samples and not promoted:
        lead_missing.insert(0, f"no promoted deployment of {name} in the period")

    # Change failure rate: of the rollouts that reached production traffic and finished, the
    # share rolled back, undone after promotion, or that caused an incident.
    failed = [d for d in finished if d.rolled_back_at or d.undone_by or d.incidents]
    rate: dict[str, Any] = {
        "value": None,
        "unit": "fraction of deployments",
        "band": None,
        "failed": len(failed),
        "deployments": len(finished),
        "records": sorted(
            {s for d in finished for s in d.seqs}
            | {s for d in failed for i in d.incidents for s in history.incidents[i].seqs}
        ),
        "failed_deployment_ids": [d.deployment_id for d in failed],
        "missing": [
            f"deployment {d.deployment_id} has not finished (not counted)" for d in in_flight
        ],
    }
    if finished:
        value = len(failed) / len(finished)
        rate.update(value=round(value, 4), band=failure_rate_band(value))
    else:
        rate["missing"].insert(0, f"no finished deployment of {name} in the period")

    # Time to restore: for each failure, from its start to service restored.
    restores: list[float] = []
    restore_records: list[int] = []
    restore_missing: list[str] = []
    for deployment in failed:
        if deployment.incidents:
            for incident_id in deployment.incidents:
                incident = history.incidents[incident_id]
                if incident.resolved_at is None:
                    restore_missing.append(f"incident {incident_id} is not resolved")
                    continue
                restores.append(_seconds(incident.resolved_at, incident.opened_at))
                restore_records.extend(incident.seqs)
        elif deployment.rolled_back_at and deployment.started_at and deployment.restored_at:
            restores.append(_seconds(deployment.restored_at, deployment.started_at))
            restore_records.extend(deployment.seqs)
        elif deployment.undone_by:
            restore_missing.append(
                f"deployment {deployment.deployment_id} was rolled back after promotion "
                f"(by {deployment.undone_by}) without an incident: when it began failing is "
                "not recorded"
            )
    restore = _median_key(restores, restore_records, restore_missing, restore_band)
    if not restores and not failed:
        restore_missing.insert(0, f"no failed deployment of {name} in the period")
    return {
        "deployment_frequency": frequency,
        "lead_time_for_changes": lead,
        "change_failure_rate": rate,
        "time_to_restore": restore,
    }


def _median_key(
    samples: list[float], records: list[int], missing: list[str], band: Callable[[float], str]
) -> dict[str, Any]:
    """A key measured in seconds: the median of its samples with its band, or no value."""
    key: dict[str, Any] = {
        "value": None,
        "unit": "seconds (median)",
        "band": None,
        "samples": len(samples),
        "records": sorted(set(records)),
        "missing": missing,
    }
    if samples:
        median = statistics.median(samples)
        key.update(value=round(median, 3), band=band(median), human=human_duration(median))
    return key


def human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * HOUR:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * DAY:
        return f"{seconds / HOUR:.1f} h"
    return f"{seconds / DAY:.1f} days"


def _selected(
    history: _History,
    *,
    start: str | None,
    end: str,
    service: str | None,
    environment: str,
) -> list[Deployment]:
    chosen = [
        d
        for d in history.deployments.values()
        if d.environment == environment
        and d.started_at is not None
        and (start is None or d.started_at >= start)
        and d.started_at < end
        and (service is None or d.service == service)
    ]
    chosen.sort(key=lambda d: d.started_at or "")
    return chosen


def _history(store: LedgerStore, service: str | None) -> _History:
    history = _read(store.records(service=service))
    _link(history)
    return history


def dora_report(
    store: LedgerStore,
    *,
    start: str | None,
    end: str | None,
    service: str | None = None,
    environment: str = "production",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The four keys for rollouts to ``environment`` that started in [start, end)
    (timestamps as the ledger writes them; ``end`` default: now, ``start`` default: the
    first deployment's start)."""
    history = _history(store, service)
    end_text = end or timestamp(now or datetime.now(UTC))
    chosen = _selected(history, start=start, end=end_text, service=service, environment=environment)
    start_text = start or (chosen[0].started_at if chosen else None) or end_text
    days = max(0.0, _seconds(end_text, start_text) / DAY)
    by_service: dict[str, list[Deployment]] = defaultdict(list)
    for deployment in chosen:
        by_service[deployment.service].append(deployment)
    return {
        "schema": DORA_SCHEMA,
        "environment": environment,
        "service": service,
        "period": {"from": start_text, "to": end_text, "days": round(days, 4)},
        "bands": BANDS_SOURCE,
        "overall": _keys(history, chosen, days, service or "any service"),
        "services": {
            name: _keys(history, items, days, name) for name, items in sorted(by_service.items())
        },
    }


def dora_trend(
    store: LedgerStore,
    *,
    service: str,
    environment: str = "production",
    weeks: int = 12,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The four keys of ``service`` per week, oldest first, over the last ``weeks`` weeks
    (each week's keys computed exactly as ``dora_report`` over that week)."""
    history = _history(store, service)
    moment = now or datetime.now(UTC)
    ends = [moment - timedelta(days=7 * i) for i in range(weeks)]
    rows = []
    for end in reversed(ends):
        start_text, end_text = timestamp(end - timedelta(days=7)), timestamp(end)
        chosen = _selected(
            history, start=start_text, end=end_text, service=service, environment=environment
        )
        rows.append(
            {"from": start_text, "to": end_text, "keys": _keys(history, chosen, 7.0, service)}
        )
    return rows


KEY_TITLES = {
    "deployment_frequency": "deployment frequency",
    "lead_time_for_changes": "lead time for changes",
    "change_failure_rate": "change failure rate",
    "time_to_restore": "time to restore",
}


def shown_value(key: str, entry: Mapping[str, Any]) -> str:
    """The number as the text output and the dashboard show it."""
    value = entry.get("value")
    if value is None:
        return "not computed"
    if key == "deployment_frequency":
        return f"{value:g}/day ({entry.get('per_week', 0):g}/week, {entry['deployments']} deployed)"
    if key == "change_failure_rate":
        return f"{100 * value:.1f} % ({entry['failed']} of {entry['deployments']})"
    return f"{human_duration(float(value))} (median of {entry['samples']})"


def render_text(report: Mapping[str, Any]) -> str:
    period = report["period"]
    lines = [
        f"DORA keys, {report['environment']}, {period['from']} .. {period['to']} "
        f"({period['days']:g} days)",
    ]
    scopes = [("overall", report["overall"]), *report["services"].items()]
    for name, keys in scopes:
        lines.append("")
        lines.append(name)
        for key in KEYS:
            entry = keys[key]
            band = entry.get("band") or "-"
            lines.append(f"  {KEY_TITLES[key]:<24} {band:<7} {shown_value(key, entry)}")
            for missing in entry.get("missing") or ():
                lines.append(f"      missing: {missing}")
    lines.append("")
    lines.append(f"bands: {report['bands']}")
    return "\n".join(lines) + "\n"


def render_csv(report: Mapping[str, Any]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["scope", "key", "value", "unit", "band", "samples", "records", "missing"])
    scopes = [("overall", report["overall"]), *report["services"].items()]
    for name, keys in scopes:
        for key in KEYS:
            entry = keys[key]
            samples = entry.get("samples", entry.get("deployments"))
            writer.writerow(
                [
                    name,
                    key,
                    "" if entry["value"] is None else entry["value"],
                    entry["unit"],
                    entry["band"] or "",
                    samples,
                    " ".join(str(seq) for seq in entry["records"]),
                    "; ".join(entry["missing"]),
                ]
            )
    return out.getvalue()
