"""The compliance report's numbers, tallied in one streaming pass, equal a naive count over
the decision models of a small seeded ledger (varied outcomes, warnings, waivers, policies
not assessed, services and days, and a record that is not a decision) — and reusing the
verified prefix changes nothing in the report but still catches a change to its records."""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.audit.compliance import compliance_report
from gatekeeper.ledger.canonical import digest_of_text
from gatekeeper.ledger.chain import record_builder, verify_chain
from gatekeeper.ledger.registry import open_store
from gatekeeper.ledger.report import ComplianceReport
from gatekeeper.ledger.report_render import get_renderer
from gatekeeper.ledger.signing import generate_key_pem, load_signer
from gatekeeper.ledger.store import LedgerError
from gatekeeper.ledger.verified import PrefixCache
from gatekeeper.model import Decision, Level, Outcome
from tests.ledger.ledger_helpers import cli

SERVICES = ("orders-api", "billing-worker", "search-ui")
DAYS = ("2026-03-01", "2026-03-02", "2026-03-04", "2026-03-09")
WAIVERS = [
    {
        "id": f"W-{n}",
        "policy": "GK-VULN-001",
        "reason": "accepted risk",
        "approved_by": "sec@example.com",
        "expires": "2030-01-01",
        "subject": f"pkg:pypi/thing@{n}",
    }
    for n in range(3)
]
CHAIN_FIELDS = ("schema", "seq", "prev_hash", "recorded_at", "signer")


def _vary(decision: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    doc = json.loads(json.dumps(decision))
    active, waived = [], list(doc["waived"])
    for violation in doc["violations"]:
        roll = rng.random()
        if roll < 0.2:
            continue  # fixed
        if roll < 0.4:
            violation["level"] = "warn"
        elif roll < 0.75:
            waived.append({"violation": violation, "waiver": rng.choice(WAIVERS)})
            continue
        active.append(violation)
    for rule in doc["rules"]:
        if rng.random() < 0.15:
            rule["assessed"] = False
    doc["violations"], doc["waived"] = active, waived
    levels = {v["level"] for v in active}
    doc["outcome"] = "fail" if "deny" in levels else "warn" if levels else "pass"
    doc["summary"]["failures"] = sum(1 for v in active if v["level"] == "deny")
    doc["summary"]["warnings"] = sum(1 for v in active if v["level"] == "warn")
    doc["summary"]["waived"] = len(waived)
    return doc


@pytest.fixture(scope="module")
def seeded(
    sqlite_history: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """60 decisions varied from the five recorded ones, and one deployment-like record."""
    source = open_store(str(sqlite_history[0]), base=sqlite_history[0].parent)
    try:
        recorded = [r.document() for r in source.records()]
    finally:
        source.close()
    rng = random.Random(1234)  # noqa: S311 - a reproducible seed, not a secret
    folder = tmp_path_factory.mktemp("seeded")
    store = open_store(str(folder / "ledger.db"), base=folder, create=True)
    try:
        for n in range(60):
            base = {k: v for k, v in rng.choice(recorded).items() if k not in CHAIN_FIELDS}
            decision = _vary(base["decision"], rng)
            service = rng.choice(SERVICES)
            decision["release"]["service"] = service
            Decision.model_validate(decision)  # still a decision the gate could have made
            fields = {
                **base,
                "decision_id": f"rec-{n}",
                "outcome": decision["outcome"],
                "decision": decision,
                "release": {**base["release"], "service": service},
            }
            when = f"{rng.choice(DAYS)}T{n // 6:02d}:{n % 60:02d}:00.000000Z"
            store.append(record_builder(fields, recorded_at=when, signer=None), {})
            if n == 30:
                other = {"kind": "deploy.started", "decision_id": "dep-1", "release": {}}
                store.append(record_builder(other, recorded_at=when, signer=None), {})
    finally:
        store.close()
    return folder / "ledger.db"


def _naive_result(d: Decision, control: str) -> str:
    """A control's result for one decision, straight from the definition in docs/ledger.md."""
    active = [v for v in d.violations if control in v.controls]
    checking = [r for r in d.rules if control in r.controls]
    if any(v.level == Level.DENY for v in active):
        return "fail"
    if active:
        return "warn"
    if any(not r.assessed for r in checking):
        return "not assessed"
    if any(control in w.violation.controls for w in d.waived):
        return "waived"
    return "pass" if checking else "n/a"


def _report(ledger: Path, cwd: Path, *extra: str) -> tuple[dict[str, Any], str]:
    out = cwd / "report.json"
    result = cli(
        "audit",
        "report",
        "--ledger",
        str(ledger),
        "--format",
        "json",
        "-o",
        str(out),
        *extra,
        cwd=cwd,
    )
    assert result.code == 0, result.stderr
    return json.loads(out.read_text()), result.stderr


def test_the_report_numbers_equal_a_naive_count(seeded: Path, tmp_path: Path) -> None:
    doc, _ = _report(seeded, tmp_path)
    store = open_store(str(seeded), base=seeded.parent)
    try:
        records = [r for r in store.records() if r.document().get("kind") == "gate.decision"]
        decisions = [Decision.model_validate(r.document()["decision"]) for r in records]
    finally:
        store.close()
    assert len(decisions) == 60
    assert [r["decision_id"] for r in doc["releases"]] == [d.decision_id for d in decisions]
    assert [(r["outcome"], r["failures"], r["service"]) for r in doc["releases"]] == [
        (d.outcome.value, d.summary.failures, d.release.service) for d in decisions
    ]
    good = (Outcome.PASS, Outcome.WARN)
    passed = sum(1 for d in decisions if d.outcome in good)
    assert (doc["summary"]["passed"], doc["summary"]["failed"]) == (passed, 60 - passed)

    totals: Counter[str] = Counter(r.recorded_at[:10] for r in records)
    day_passed: Counter[str] = Counter(
        r.recorded_at[:10] for r, d in zip(records, decisions, strict=True) if d.outcome in good
    )
    assert [(b["day"], b["total"], b["passed"], b["failed"]) for b in doc["days"]] == [
        (day, totals[day], day_passed[day], totals[day] - day_passed[day]) for day in sorted(totals)
    ]

    failing_decisions: Counter[str] = Counter()
    failing_violations: Counter[str] = Counter()
    for d in decisions:
        denied = [v for v in d.violations if v.level == Level.DENY]
        failing_violations.update(v.policy for v in denied)
        failing_decisions.update({v.policy for v in denied})
    assert [(p["policy"], p["decisions"], p["violations"]) for p in doc["top_failing"]] == sorted(
        ((p, n, failing_violations[p]) for p, n in failing_decisions.items()),
        key=lambda row: (-row[1], row[0]),
    )
    assert failing_decisions  # the seed has failures, warnings, waivers, not assessed …

    uses = Counter(w.waiver.id for d in decisions for w in d.waived)
    assert {w["id"]: w["uses"] for w in doc["waivers"]} == dict(uses)
    assert len(uses) >= 2

    controls = sorted({c for d in decisions for r in d.rules for c in r.controls})
    assert [c["control"] for c in doc["controls"]] == controls
    seen: Counter[str] = Counter()
    for row in doc["controls"]:
        naive = [_naive_result(d, row["control"]) for d in decisions]
        assert row["results"] == naive, row["control"]
        seen.update(naive)
    assert {"pass", "fail", "warn", "waived", "not assessed"} <= set(seen)


def test_the_verified_prefix_changes_nothing_in_the_report(seeded: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(seeded.read_bytes())
    cold, err = _report(ledger, tmp_path)
    assert err == ""
    assert list((tmp_path / ".gatekeeper" / "verified").glob("*.json"))  # the report wrote it
    warm, err = _report(ledger, tmp_path)
    assert err == ""
    cold.pop("generated_at")
    warm.pop("generated_at")
    assert warm == cold
    assert warm["chain"]["intact"] is True
    # A record inside the verified prefix changed: reported, and the period still listed.
    db = sqlite3.connect(ledger)
    body = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 7").fetchone()[0]
    db.execute(
        "UPDATE gk_ledger_records SET body = ? WHERE seq = 7",
        (body.replace('"gatekeeper_version":"', '"gatekeeper_version":"9', 1),),
    )
    db.commit()
    db.close()
    broken, err = _report(ledger, tmp_path)
    assert broken["chain"]["intact"] is False
    assert "record #7" in broken["chain"]["problem"]
    assert "verified prefix does not match" in err
    assert len(broken["releases"]) == 60
    nocache, err = _report(ledger, tmp_path, "--no-cache")
    assert err == "" and nocache["chain"] == broken["chain"]


def test_a_period_report_reads_the_same_from_the_verified_prefix(
    seeded: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(seeded.read_bytes())
    period = ("--from", "2026-03-02", "--to", "2026-03-04", "--service", "search-ui")
    cold, _ = _report(ledger, tmp_path, "--no-cache", *period)
    warm, err = _report(ledger, tmp_path, *period)
    assert err == ""
    cold.pop("generated_at")
    warm.pop("generated_at")
    assert warm == cold
    assert 0 < len(warm["releases"]) < 60
    assert {r["service"] for r in warm["releases"]} == {"search-ui"}


def test_records_appended_after_the_prefix_are_reported(seeded: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(seeded.read_bytes())
    _report(ledger, tmp_path)  # leaves the verified prefix: 61 records
    store = open_store(str(ledger), base=tmp_path)
    try:
        last = [r for r in store.records()][-2].document()
        base = {k: v for k, v in last.items() if k not in CHAIN_FIELDS}
        for n in range(3):
            fields = {**base, "decision_id": f"late-{n}"}
            when = f"2026-03-10T00:00:0{n}.000000Z"
            store.append(record_builder(fields, recorded_at=when, signer=None), {})
        # The walk itself, with and without reading the rest from the store: every record
        # visited once, in order.
        cache = PrefixCache(store, tmp_path)
        for after in (None, lambda seq: store.records(after_seq=seq)):
            seen: list[int] = []
            result = verify_chain(
                store.records,
                head=store.head(),
                visit=lambda record, _doc, into=seen: into.append(record.seq),
                prefix=cache.load(),
                records_after=after,
            )
            assert result.ok and result.covered == 61
            assert seen == list(range(1, 65))
    finally:
        store.close()
    warm, err = _report(ledger, tmp_path)
    cold, _ = _report(ledger, tmp_path, "--no-cache")
    assert err == ""
    warm.pop("generated_at")
    cold.pop("generated_at")
    assert warm == cold
    assert [r["decision_id"] for r in warm["releases"]][-3:] == [
        base["decision"]["decision_id"]
    ] * 3
    assert len(warm["releases"]) == 63


def test_oscal_export_reads_the_same_from_the_verified_prefix(seeded: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(seeded.read_bytes())
    docs = []
    for extra in (("--no-cache",), ()):
        out = tmp_path / "oscal.json"
        args = ("audit", "export", "oscal", "--ledger", str(ledger), "-o", str(out), *extra)
        result = cli(*args, cwd=tmp_path)
        assert (result.code, result.stderr) == (0, "")
        (found,) = json.loads(out.read_text())["assessment-results"]["results"]
        # What was observed and found (ids and times depend on the moment of the export).
        docs.append(
            (
                [o["description"] for o in found["observations"]],
                [(f["title"], f["target"]["status"]["state"]) for f in found["findings"]],
            )
        )
    assert docs[0] == docs[1]
    assert len(docs[0][0]) == 60 and docs[0][1]
    assert list((tmp_path / ".gatekeeper" / "verified").glob("*.json"))


NOW = datetime(2026, 3, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def signed_seeded(seeded: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded ledger recorded again with every record signed."""
    folder = tmp_path_factory.mktemp("signed-seeded")
    (folder / "key.pem").write_bytes(generate_key_pem()[0])
    signer = load_signer(folder / "key.pem")
    source = open_store(str(seeded), base=seeded.parent)
    store = open_store(str(folder / "ledger.db"), base=folder, create=True)
    try:
        for record in source.records():
            fields = {k: v for k, v in record.document().items() if k not in CHAIN_FIELDS}
            store.append(record_builder(fields, recorded_at=record.recorded_at, signer=signer), {})
    finally:
        source.close()
        store.close()
    return folder / "ledger.db"


def _built(ledger: Path, *, parallel: bool, **period: str) -> ComplianceReport:
    store = open_store(str(ledger), base=ledger.parent)
    try:
        return compliance_report(
            store,
            start=period.get("start"),
            end=period.get("end"),
            service=period.get("service"),
            now=NOW,
            parallel=parallel,
        )
    finally:
        store.close()


def _rendered(report: ComplianceReport) -> dict[str, str]:
    found = {}
    for name in ("csv", "html", "json", "markdown"):
        renderer = get_renderer(name)
        chunks = getattr(renderer, "chunks", None)
        found[name] = "".join(chunks(report)) if callable(chunks) else renderer.render(report)
    return found


@pytest.mark.parametrize(
    "period",
    [
        {},
        {"start": "2026-03-02T00:00:00.000000Z", "end": "2026-03-05T00:00:00.000000Z"},
        {"service": "search-ui"},
    ],
    ids=["all", "period", "service"],
)
def test_worker_processes_build_the_report_the_one_process_walk_builds(
    signed_seeded: Path, in_parallel: list[object], period: dict[str, str]
) -> None:
    """The workers read every decision into the report's rows (batches of 3 here): the
    report, and each of its formats, is the one this process builds alone."""
    one = _built(signed_seeded, parallel=False, **period)
    assert in_parallel == []
    many = _built(signed_seeded, parallel=True, **period)
    assert len(in_parallel) == 1  # built by worker processes
    assert many.chain.intact and many.chain.records == 61
    assert many == one
    assert _rendered(many) == _rendered(one)
    if not period:  # the decisions are varied: every kind of result is in the comparison
        assert len(many.releases) == 60 and len({r.service for r in many.releases}) == 3
        assert many.waivers and any(r.waived for r in many.releases)
        results = {result for control in many.controls for result in control.results}
        assert {"pass", "fail", "warn", "waived", "not assessed"} <= results


@pytest.mark.parametrize("damage", ["edited", "not-json"])
def test_a_damaged_body_inside_a_worker_batch_fails_the_report(
    signed_seeded: Path, tmp_path: Path, in_parallel: list[object], damage: str
) -> None:
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(signed_seeded.read_bytes())
    db = sqlite3.connect(ledger)
    if damage == "edited":  # the content no longer hashes to the stored hash
        body = db.execute("SELECT body FROM gk_ledger_records WHERE seq = 20").fetchone()[0]
        edited = body.replace('"gatekeeper_version":"', '"gatekeeper_version":"9', 1)
        assert edited != body
        db.execute("UPDATE gk_ledger_records SET body = ? WHERE seq = 20", (edited,))
    else:  # not JSON any more, its hash recomputed to match
        db.execute(
            "UPDATE gk_ledger_records SET body = ?, hash = ? WHERE seq = 20",
            ("{not json", digest_of_text("{not json")),
        )
    db.commit()
    db.close()
    if damage == "edited":
        many = _built(ledger, parallel=True)
        assert len(in_parallel) == 1
        assert not many.chain.intact
        assert many.chain.problem is not None and "record #20" in many.chain.problem
        assert "modified" in many.chain.problem
        assert many.chain == _built(ledger, parallel=False).chain
        return
    # The walk names it; the report, which lists the period's records, cannot read it.
    store = open_store(str(ledger), base=tmp_path)
    try:
        walks = [
            verify_chain(store.records, head=store.head(), parallel=parallel)
            for parallel in (True, False)
        ]
    finally:
        store.close()
    assert len(in_parallel) == 1
    assert walks[0] == walks[1] and walks[0].problem is not None
    assert walks[0].problem.seq == 20 and "modified" in walks[0].problem.message
    for parallel in (True, False):
        with pytest.raises(LedgerError, match=r"record #20 \(rec-19\) is not valid JSON"):
            _built(ledger, parallel=parallel)


def test_a_record_that_is_no_decision_fails_alike_with_workers(
    signed_seeded: Path, tmp_path: Path, in_parallel: list[object]
) -> None:
    """A decision record the tally cannot read is a LedgerError naming it, read by a worker
    or not (the worker leaves it to this process, in record order)."""
    ledger = tmp_path / "ledger.db"
    ledger.write_bytes(signed_seeded.read_bytes())
    store = open_store(str(ledger), base=tmp_path)
    try:
        fields = {"kind": "gate.decision", "decision_id": "odd", "decision": {"outcome": "pass"}}
        store.append(
            record_builder(fields, recorded_at="2026-03-09T23:00:00.000000Z", signer=None), {}
        )
    finally:
        store.close()
    errors = []
    for parallel in (False, True):
        with pytest.raises(LedgerError) as caught:
            _built(ledger, parallel=parallel)
        errors.append(str(caught.value))
    assert len(in_parallel) == 1
    assert errors[0] == errors[1] and "record #62 (odd)" in errors[0]
