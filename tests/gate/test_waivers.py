from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.errors import EXIT_INPUT
from gatekeeper.gate.waivers import (
    WaiverError,
    apply_waivers,
    default_waivers_path,
    is_expired,
    load_waivers,
    waiver_matches,
)
from gatekeeper.model import Level, Severity, Violation, Waiver

NOW = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)


def violation(
    policy: str = "GK-VULN-001",
    subject: str | None = "pkg:pypi/requests@2.19.1",
    level: Level = Level.DENY,
    **evidence: Any,
) -> Violation:
    return Violation(
        policy=policy,
        rule="deny",
        package="gatekeeper.vuln",
        level=level,
        severity=Severity.HIGH,
        message="something is wrong",
        subject=subject,
        evidence=evidence,
    )


def waiver(**fields: Any) -> Waiver:
    base: dict[str, Any] = {
        "id": "W-1",
        "policy": "GK-VULN-001",
        "reason": "accepted risk",
        "approved_by": "alice",
        "expires": "2026-12-31",
    }
    base.update(fields)
    return Waiver(**base)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "waivers.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


VALID = """\
    waivers:
      - id: W-001
        policy: GK-VULN-001
        subject: "pkg:pypi/requests@2.19.1"
        reason: no fix yet, not reachable
        approved_by: alice
        expires: 2026-12-31
        created: 2026-10-05
      - id: W-002
        policy: "GK-SAST-*"
        fingerprint: abc123
        path: "src/legacy/**"
        reason: legacy module scheduled for removal
        approved_by: bob
        expires: 2026-11-01T18:00:00Z
"""


# --- loading ---------------------------------------------------------------------------------


def test_loads_valid_file_and_keeps_expiry_iso(tmp_path: Path) -> None:
    waivers = load_waivers(write(tmp_path, VALID), now=NOW)

    assert [w.id for w in waivers] == ["W-001", "W-002"]
    assert waivers[0].expires == "2026-12-31"
    assert waivers[0].subject == "pkg:pypi/requests@2.19.1"
    assert waivers[1].expires == "2026-11-01T18:00:00Z"
    assert waivers[1].path == "src/legacy/**"


def test_empty_file_and_empty_list_mean_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(write(tmp_path, ""), now=NOW) == ()
    assert load_waivers(write(tmp_path, "waivers: []\n"), now=NOW) == ()


def load_error(tmp_path: Path, text: str, **kwargs: Any) -> str:
    with pytest.raises(WaiverError) as caught:
        load_waivers(write(tmp_path, text), now=kwargs.pop("now", NOW), **kwargs)
    assert caught.value.exit_code == EXIT_INPUT
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "waivers.yaml") in message
    return message


def test_unknown_key_suggests_closest(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("approved_by: bob", "aproved_by: bob"))
    assert "waivers[1] (id 'W-002')" in message
    assert "unknown key 'aproved_by' (did you mean 'approved_by'?)" in message
    assert ":14:" in message  # the line of the bad key


def test_unknown_top_level_key_suggests_waivers(tmp_path: Path) -> None:
    assert "did you mean 'waivers'?" in load_error(tmp_path, "waiver: []\n")


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("        reason: no fix yet, not reachable\n", ""))
    assert "waivers[0] (id 'W-001'): reason: required field is missing" in message


@pytest.mark.parametrize(
    ("field", "line"),
    [("reason", "reason: no fix yet, not reachable"), ("approved_by", "approved_by: alice")],
)
def test_blank_reason_or_approver_is_rejected(tmp_path: Path, field: str, line: str) -> None:
    message = load_error(tmp_path, VALID.replace(line, f'{field}: "  "'))
    assert f"waivers[0] (id 'W-001'): {field}: must not be empty" in message


def test_wrong_type_is_rejected_with_quote_hint(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("fingerprint: abc123", "fingerprint: 123456"))
    assert "waivers[1] (id 'W-002'): fingerprint:" in message
    assert "quote it" in message


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("id: W-002", "id: W-001"))
    assert "waivers[1] (id 'W-001'): id: duplicate id, already used by waivers[0]" in message


def test_duplicate_yaml_key_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace(
        "expires: 2026-12-31\n", "expires: 2026-12-31\n        expires: 2099-01-01\n"
    )
    assert "duplicate key 'expires'" in load_error(tmp_path, text)


def test_waiver_without_subject_matcher_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace('        subject: "pkg:pypi/requests@2.19.1"\n', "")
    message = load_error(tmp_path, text)
    assert "waivers[0] (id 'W-001')" in message
    assert "needs at least one of subject, vulnerability, fingerprint, path" in message


def test_blanket_waiver_of_everything_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace("policy: GK-VULN-001", 'policy: "*"').replace(
        'subject: "pkg:pypi/requests@2.19.1"', 'subject: "*"'
    )
    assert "policy: '*' is too broad" in load_error(tmp_path, text)


def test_bad_yaml_reports_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, "waivers:\n  - id: [W-1\n    policy: x\n")
    assert "invalid YAML" in message


def test_invalid_date_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, VALID.replace("expires: 2026-12-31", "expires: next year"))
    assert "waivers[0] (id 'W-001'): expires:" in message
    assert "RFC 3339" in message


def test_impossible_calendar_date_is_rejected(tmp_path: Path) -> None:
    load_error(tmp_path, VALID.replace("expires: 2026-12-31", "expires: 2026-13-45"))


def test_time_without_timezone_is_rejected(tmp_path: Path) -> None:
    text = VALID.replace("expires: 2026-11-01T18:00:00Z", 'expires: "2026-11-01T18:00:00"')
    assert "needs a timezone" in load_error(tmp_path, text)


def test_expiry_beyond_max_days_from_created_is_rejected(tmp_path: Path) -> None:
    # created 2026-10-01 + 90 days = 2026-12-30; 2026-12-31 is 91 days.
    text = VALID.replace("created: 2026-10-05", "created: 2026-10-01")
    message = load_error(tmp_path, text)
    assert "waivers[0] (id 'W-001'): expires: 2026-12-31 is 91 days after created" in message
    assert "at most 90 days" in message


def test_expiry_beyond_max_days_from_now_when_no_created(tmp_path: Path) -> None:
    text = VALID.replace("expires: 2026-11-01T18:00:00Z", "expires: 2027-06-01")
    message = load_error(tmp_path, text)
    assert "waivers[1] (id 'W-002'): expires: 2027-06-01" in message
    assert "after today (2026-10-15)" in message


def test_max_days_is_configurable(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    with pytest.raises(WaiverError, match="at most 30 days"):
        load_waivers(path, now=NOW, max_days=30)
    assert len(load_waivers(path, now=NOW, max_days=91)) == 2


def test_created_in_future_cannot_stretch_the_maximum(tmp_path: Path) -> None:
    text = VALID.replace("expires: 2026-12-31", "expires: 2030-03-01").replace(
        "created: 2026-10-05", "created: 2030-01-01"
    )
    assert "created: 2030-01-01 is in the future" in load_error(tmp_path, text)


def test_already_expired_waiver_loads(tmp_path: Path) -> None:
    # Expired waivers are not an input error: they are reported by apply_waivers.
    waivers = load_waivers(write(tmp_path, VALID), now=datetime(2027, 3, 1, tzinfo=UTC))
    assert len(waivers) == 2


def test_missing_file_and_oversized_file(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match="file not found"):
        load_waivers(tmp_path / "nope.yaml", now=NOW)
    big = tmp_path / "big.yaml"
    big.write_text("waivers: []\n" + "#" * (1024 * 1024 + 10), encoding="utf-8")
    with pytest.raises(WaiverError, match="over the limit of"):
        load_waivers(big, now=NOW)


def test_default_path_only_when_present(tmp_path: Path) -> None:
    assert default_waivers_path(tmp_path) is None
    (tmp_path / ".gatekeeper").mkdir()
    (tmp_path / ".gatekeeper" / "waivers.yaml").write_text("waivers: []\n")
    assert default_waivers_path(tmp_path) == tmp_path / ".gatekeeper" / "waivers.yaml"


# --- expiry ----------------------------------------------------------------------------------


def test_date_expiry_is_inclusive_of_the_whole_day_utc() -> None:
    w = waiver(expires="2026-10-15")
    assert not is_expired(w, datetime(2026, 10, 15, 23, 59, 59, tzinfo=UTC))
    assert is_expired(w, datetime(2026, 10, 16, 0, 0, tzinfo=UTC))


def test_time_expiry_is_inclusive_of_the_instant() -> None:
    w = waiver(expires="2026-10-15T12:00:00Z")
    assert not is_expired(w, datetime(2026, 10, 15, 12, 0, tzinfo=UTC))
    assert is_expired(w, datetime(2026, 10, 15, 12, 0, 1, tzinfo=UTC))


def test_expires_today_applies_expired_yesterday_is_reported() -> None:
    today = waiver(id="W-today", expires="2026-10-15")
    yesterday = waiver(id="W-yesterday", expires="2026-10-14")
    v = violation()

    outcome = apply_waivers([v], [yesterday, today], now=NOW)
    assert outcome.active == ()
    assert [(w.violation, w.waiver.id) for w in outcome.waived] == [(v, "W-today")]
    assert [w.id for w in outcome.expired] == ["W-yesterday"]

    only_expired = apply_waivers([v], [yesterday], now=NOW)
    assert only_expired.active == (v,)
    assert only_expired.waived == ()
    assert [w.id for w in only_expired.expired] == ["W-yesterday"]
    assert only_expired.stale == ()  # expired is reported as expired, not stale


# --- matching --------------------------------------------------------------------------------


def test_unmatched_unexpired_waiver_is_stale() -> None:
    used = waiver(id="W-used")
    unused = waiver(id="W-unused", subject="pkg:pypi/flask@1.0")
    outcome = apply_waivers([violation()], [used, unused], now=NOW)
    assert [w.id for w in outcome.stale] == ["W-unused"]
    assert [w.waiver.id for w in outcome.waived] == ["W-used"]


def test_policy_family_glob() -> None:
    assert waiver_matches(waiver(policy="GK-VULN-*", subject="pkg:pypi/requests"), violation())
    assert not waiver_matches(waiver(policy="GK-SAST-*", subject="pkg:pypi/requests"), violation())
    # Exact policy ids are exact (no prefix matching, case matters).
    for near_miss in ("GK-VULN-00", "gk-vuln-001"):
        assert not waiver_matches(
            waiver(policy=near_miss, subject="pkg:pypi/requests"), violation()
        )


@pytest.mark.parametrize(
    ("policy", "matcher", "value"),
    [
        ("GK-*", "subject", "*"),
        ("GK-VULN-*", "subject", "*"),
        ("*", "subject", "?*"),
        ("*", "subject", "*?"),
        ("*", "subject", "pkg:*"),
        ("GK-VULN-001", "subject", "pkg:npm/@acme/*"),
        ("GK-*", "subject", "pkg:pypi/requests"),
        ("GK-V*", "subject", "pkg:pypi/requests"),
        ("*", "vulnerability", "CVE-2023-1234"),
        ("GK-VULN-001", "vulnerability", "CVE-*"),
        ("GK-VULN-001", "fingerprint", "*"),
        ("GK-SAST-001", "path", "**"),
        ("GK-SAST-001", "path", "**/*.py"),
        ("GK-SAST-001", "path", "*/legacy/**"),
        ("GK-VULN-001", "subject", "pkg:"),
    ],
)
def test_broad_waiver_is_refused_naming_it(
    tmp_path: Path, policy: str, matcher: str, value: str
) -> None:
    text = f"""\
        waivers:
          - id: W-broad
            policy: {json.dumps(policy)}
            {matcher}: {json.dumps(value)}
            reason: r
            approved_by: a
            expires: 2026-12-31
        """
    message = load_error(tmp_path, text)
    assert "waivers[0] (id 'W-broad')" in message
    broad = "policy" if matcher != "path" and not _narrow_policy(policy) else matcher
    assert f": {broad}: " in message


def _narrow_policy(policy: str) -> bool:
    return policy in {"GK-VULN-001", "GK-SAST-001", "GK-VULN-*"}


def test_narrow_waivers_load(tmp_path: Path) -> None:
    text = """\
        waivers:
          - id: W-family
            policy: "GK-VULN-*"
            subject: "pkg:pypi/requests"
            reason: r
            approved_by: a
            expires: 2026-12-31
          - id: W-path
            policy: GK-SAST-001
            path: "src/legacy/**"
            reason: r
            approved_by: a
            expires: 2026-12-31
        """
    assert [w.id for w in load_waivers(write(tmp_path, text), now=NOW)] == ["W-family", "W-path"]


def test_coverage_counts_the_violations_each_waiver_waived() -> None:
    requests = waiver(id="W-req", subject="pkg:pypi/requests")
    flask = waiver(id="W-flask", subject="pkg:pypi/flask")
    outcome = apply_waivers(
        [
            violation(subject="pkg:pypi/requests@1"),
            violation(subject="pkg:pypi/requests@2"),
            violation(subject="pkg:pypi/flask@1"),
            violation(subject="pkg:pypi/django@1"),
        ],
        [requests, flask],
        now=NOW,
    )
    assert [(c.id, c.violations) for c in outcome.coverage()] == [("W-req", 2), ("W-flask", 1)]


def test_purl_without_version_matches_every_version() -> None:
    w = waiver(subject="pkg:pypi/requests")
    assert waiver_matches(w, violation(subject="pkg:pypi/requests@2.19.1"))
    assert waiver_matches(w, violation(subject="pkg:pypi/requests@2.31.0"))
    assert not waiver_matches(w, violation(subject="pkg:pypi/requests-oauthlib@1.0"))


def test_purl_with_version_matches_only_that_version() -> None:
    w = waiver(subject="pkg:pypi/requests@2.19.1")
    assert waiver_matches(w, violation(subject="pkg:pypi/requests@2.19.1"))
    assert not waiver_matches(w, violation(subject="pkg:pypi/requests@2.19.10"))
    assert not waiver_matches(w, violation(subject="pkg:pypi/requests"))


def test_purl_comparison_ignores_qualifiers_and_normalizes_names() -> None:
    assert waiver_matches(
        waiver(subject="pkg:pypi/PyYAML"), violation(subject="pkg:pypi/pyyaml@6.0?arch=x86_64")
    )
    assert waiver_matches(
        waiver(subject="pkg:npm/@angular/core"),
        violation(subject="pkg:npm/%40angular/core@16.0.0"),
    )


def test_subject_matches_evidence_purl_of_a_vulnerability_violation() -> None:
    v = violation(subject="CVE-2023-1234", purl="pkg:pypi/requests@2.19.1")
    assert waiver_matches(waiver(subject="pkg:pypi/requests", vulnerability="CVE-2023-1234"), v)
    assert not waiver_matches(waiver(subject="pkg:pypi/flask", vulnerability="CVE-2023-1234"), v)


def test_concrete_subject_is_compared_exactly() -> None:
    assert waiver_matches(waiver(subject="src/app.py:3"), violation(subject="src/app.py:3"))
    assert not waiver_matches(waiver(subject="src/app.py"), violation(subject="src/app.py:3"))


def test_vulnerability_matches_evidence_aliases_and_subject() -> None:
    by_evidence = violation(subject="pkg:pypi/requests@2.19.1", vulnerability="GHSA-x")
    by_alias = violation(vulnerability="GHSA-x", aliases=["CVE-2023-1234"])
    by_subject = violation(subject="CVE-2023-1234")
    w = waiver(vulnerability="cve-2023-1234")
    assert not waiver_matches(w, by_evidence)
    assert waiver_matches(w, by_alias)
    assert waiver_matches(w, by_subject)
    assert waiver_matches(waiver(vulnerability="GHSA-x"), by_evidence)


def test_and_semantics_every_matcher_must_match() -> None:
    w = waiver(policy="GK-SAST-*", fingerprint="abc123", path="src/legacy/**")
    in_legacy = violation(
        policy="GK-SAST-002", subject="src/legacy/a/b.py:12", fingerprint="abc123"
    )
    elsewhere = violation(policy="GK-SAST-002", subject="src/app.py:12", fingerprint="abc123")
    other_fp = violation(policy="GK-SAST-002", subject="src/legacy/a.py:3", fingerprint="zzz")

    outcome = apply_waivers([in_legacy, elsewhere, other_fp], [w], now=NOW)
    assert [x.violation for x in outcome.waived] == [in_legacy]
    assert outcome.active == (elsewhere, other_fp)


def test_path_glob_semantics() -> None:
    def matches(pattern: str, **kw: Any) -> bool:
        return waiver_matches(waiver(policy="P", path=pattern), violation(policy="P", **kw))

    assert matches("src/*.py", subject="src/app.py:3:7")
    assert not matches("src/*.py", subject="src/sub/app.py:3")  # '*' stays in one directory
    assert matches("src/**/*.py", subject="src/app.py:3")
    assert matches("src/**/*.py", subject=None, path="./src/a/b/c.py")
    assert not matches("src/**", subject="tests/src/x.py:1")


def test_warn_violations_can_be_waived_too() -> None:
    warn = violation(level=Level.WARN)
    outcome = apply_waivers([warn], [waiver()], now=NOW)
    assert outcome.active == ()
    assert outcome.waived[0].violation.level is Level.WARN


def test_first_matching_waiver_wins_and_neither_is_stale() -> None:
    first = waiver(id="W-a", subject="pkg:pypi/requests")
    second = waiver(id="W-b", vulnerability="CVE-1", subject="pkg:pypi/requests@2.19.1")
    v = violation(vulnerability="CVE-1")
    outcome = apply_waivers([v], [first, second], now=NOW)
    assert [x.waiver.id for x in outcome.waived] == ["W-a"]
    assert outcome.stale == ()


def test_loaded_waivers_apply_end_to_end(tmp_path: Path) -> None:
    waivers = load_waivers(write(tmp_path, VALID), now=NOW)
    sast = violation(policy="GK-SAST-010", subject="src/legacy/db.py:40", fingerprint="abc123")
    vuln = violation()
    other = violation(subject="pkg:pypi/urllib3@1.0")
    outcome = apply_waivers([sast, vuln, other], waivers, now=NOW)
    assert outcome.active == (other,)
    assert {x.waiver.id for x in outcome.waived} == {"W-001", "W-002"}

    later = apply_waivers([sast, vuln], waivers, now=datetime(2026, 11, 2, tzinfo=UTC))
    assert later.active == (sast,)  # W-002 expired at 2026-11-01T18:00Z
    assert [w.id for w in later.expired] == ["W-002"]


def test_reports_say_how_many_violations_each_waiver_covered() -> None:
    from gatekeeper.report.registry import get_reporter
    from tests.report.report_samples import failing

    decision = failing()
    assert "W-12 covered 1 violation" in get_reporter("table").render(decision)
    assert "| `W-12` | `GK-LIC-005` | 1 |" in get_reporter("markdown").render(decision)
    assert '"waiverCoverage": {\n          "W-12": 1' in get_reporter("sarif").render(decision)
    junit = get_reporter("junit").render(decision)
    assert 'name="gatekeeper.waiver.W-12.violations" value="1"' in junit
    assert get_reporter("json").render(decision).count('"violations": 1') >= 1
