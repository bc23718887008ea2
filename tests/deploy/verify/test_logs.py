"""Log templates learned from the baseline (Drain3), new and rising patterns in the canary."""

# ruff: noqa: S311 - seeded test data, not secrets

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gatekeeper.deploy.verify import LogConfig, Outcome, analyze_logs

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/srv/app/handlers.py", line 42, in get_order',
    "    total = amount / count",
    "ZeroDivisionError: division by zero",
]


def service_log(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stamp = f"2026-11-26T10:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randint(0, 999):03d}Z"
        r = rng.random()
        if r < 0.6:
            ms = rng.uniform(1, 50)
            out.append(f"{stamp} INFO GET /orders/{rng.randint(1, 9999)} 200 in {ms:.1f} ms")
        elif r < 0.9:
            out.append(f"{stamp} INFO order {rng.randint(1000, 9999)} created for user {i}")
        elif r < 0.99:
            out.append(f"{stamp} WARNING slow query took {rng.randint(100, 900)} ms")
        else:
            host = f"10.0.0.{rng.randint(1, 9)}:5432"
            out.append(f"{stamp} ERROR upstream timeout after 5000 ms host={host}")
    return out


BASELINE = service_log(1, 2000)


def test_same_behaviour_passes() -> None:
    verdict = analyze_logs(BASELINE, service_log(2, 600))
    assert verdict.outcome is Outcome.PASS
    assert verdict.findings == ()
    assert verdict.baseline_templates >= 4


def test_new_exception_in_the_canary_is_flagged_and_fails() -> None:
    canary = service_log(2, 600)
    canary[300:300] = TRACEBACK
    verdict = analyze_logs(BASELINE, canary)
    assert verdict.outcome is Outcome.FAIL
    failing = {f.template for f in verdict.findings if f.fails}
    assert "ZeroDivisionError: division by zero" in failing
    assert "Traceback (most recent call last):" in failing
    finding = next(f for f in verdict.findings if f.template.startswith("ZeroDivisionError"))
    assert finding.kind == "new_template" and finding.baseline_count == 0
    assert finding.canary_count == 1 and finding.examples == (
        "ZeroDivisionError: division by zero",
    )
    assert "ZeroDivisionError" in verdict.reason


def test_new_info_line_is_reported_but_only_fails_with_fail_on_any() -> None:
    canary = [*service_log(2, 600), "INFO feature flag checkout-v2 enabled"]
    verdict = analyze_logs(BASELINE, canary)
    assert verdict.outcome is Outcome.PASS
    (finding,) = verdict.findings
    assert finding.kind == "new_template" and not finding.error_like and not finding.fails
    strict = analyze_logs(BASELINE, canary, LogConfig(fail_on="any"))
    assert strict.outcome is Outcome.FAIL


def test_known_error_whose_rate_rose_significantly_fails() -> None:
    timeout = "2026-11-26T10:00:00.000Z ERROR upstream timeout after 5000 ms host=10.0.0.1:5432"
    canary = [*service_log(2, 600), *[timeout] * 30]
    verdict = analyze_logs(BASELINE, canary)
    assert verdict.outcome is Outcome.FAIL
    (finding,) = verdict.findings
    assert finding.kind == "rate_increase" and finding.error_like
    assert finding.baseline_count > 0 and finding.canary_count > 30
    assert finding.p_value is not None and finding.p_value < 0.02
    assert finding.canary_rate > 2 * finding.baseline_rate


def test_a_few_more_known_errors_is_not_a_rate_increase() -> None:
    timeout = "2026-11-26T10:00:00.000Z ERROR upstream timeout after 5000 ms host=10.0.0.1:5432"
    verdict = analyze_logs(BASELINE, [*service_log(2, 600), timeout])
    assert verdict.outcome is Outcome.PASS


def test_too_few_baseline_lines_is_inconclusive() -> None:
    verdict = analyze_logs(BASELINE[:10], TRACEBACK)
    assert verdict.outcome is Outcome.INCONCLUSIVE
    assert "too few baseline log lines" in verdict.reason


def test_no_canary_lines_is_inconclusive() -> None:
    assert analyze_logs(BASELINE, []).outcome is Outcome.INCONCLUSIVE


def test_input_is_bounded() -> None:
    long_line = "x" * 10_000
    verdict = analyze_logs(BASELINE, [long_line] * 5, LogConfig(max_lines=3, fail_on="any"))
    assert verdict.canary_lines == 3
    assert all(len(example) <= 2000 for f in verdict.findings for example in f.examples)
    assert "cut at max_lines" in verdict.reason


def test_no_drain3_config_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A drain3.ini in the working directory must not change what we learn.
    (tmp_path / "drain3.ini").write_text("[DRAIN]\nsim_th = 0.01\ndepth = 3\n")
    monkeypatch.chdir(tmp_path)
    canary = service_log(2, 600)
    canary[300:300] = TRACEBACK
    assert analyze_logs(BASELINE, canary).outcome is Outcome.FAIL
    assert list(tmp_path.iterdir()) == [tmp_path / "drain3.ini"]
