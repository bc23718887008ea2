"""Our rank statistics against scipy (a dev dependency) and against brute force."""

# ruff: noqa: S311 - seeded test data, not secrets

from __future__ import annotations

import math
import random

import pytest

from gatekeeper.deploy.verify import stats

scipy_stats = pytest.importorskip("scipy.stats")


def _samples(rng: random.Random, n: int, shift: float, ties: bool) -> list[float]:
    if ties:
        return [float(rng.randint(0, 6)) + shift for _ in range(n)]
    return [rng.lognormvariate(3, 0.5) + shift for _ in range(n)]


@pytest.mark.parametrize("seed", range(6))
def test_mann_whitney_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        n1, n2 = rng.randint(1, 70), rng.randint(1, 70)
        ties = rng.random() < 0.4
        canary = _samples(rng, n1, rng.choice([0.0, 3.0]), ties)
        baseline = _samples(rng, n2, 0.0, ties)
        ours = stats.mann_whitney(canary, baseline)
        method = "exact" if ours.method == "exact" else "asymptotic"
        theirs = scipy_stats.mannwhitneyu(
            canary, baseline, alternative="two-sided", method=method, use_continuity=True
        )
        assert ours.u == pytest.approx(theirs.statistic, abs=1e-9)
        assert ours.p_value == pytest.approx(theirs.pvalue, rel=1e-9, abs=1e-15)


def test_exact_is_used_for_small_samples_without_ties_only() -> None:
    assert stats.mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0]).method == "exact"
    assert stats.mann_whitney([1.0, 2.0, 2.0], [4.0, 5.0]).method == "normal"
    big = [float(i) for i in range(60)]
    assert stats.mann_whitney(big, [x + 0.5 for x in big]).method == "normal"


def test_exact_p_value_of_complete_separation() -> None:
    # 4 vs 4, all canary above: only 1 of C(8,4)=70 arrangements is as extreme per side.
    result = stats.mann_whitney([5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0])
    assert result.u == 16
    assert result.p_value == pytest.approx(2 / 70)


def test_identical_values_give_p_one() -> None:
    assert stats.mann_whitney([1.0] * 80, [1.0] * 80).p_value == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_selection_equals_brute_force_order_statistics(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(15):
        y = sorted(round(rng.gauss(0, 1), rng.choice([1, 6])) for _ in range(rng.randint(1, 400)))
        x = sorted(rng.gauss(0.3, 1) for _ in range(rng.randint(1, 400)))
        diffs = sorted(a - b for a in y for b in x)
        for k in {0, len(diffs) // 2, len(diffs) - 1, rng.randrange(len(diffs))}:
            assert stats._kth_difference(y, x, k) == diffs[k]


def test_large_samples_use_selection_and_agree_with_all_pairs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    canary = [rng.lognormvariate(3.1, 0.5) for _ in range(700)]
    baseline = [rng.lognormvariate(3.0, 0.5) for _ in range(500)]
    all_pairs = stats.hodges_lehmann(canary, baseline)
    monkeypatch.setattr(stats, "ALL_PAIRS_MAX", 0)
    selected = stats.hodges_lehmann(canary, baseline)
    assert selected == all_pairs


def test_hodges_lehmann_estimates_a_known_shift() -> None:
    baseline = [float(i) for i in range(100)]
    canary = [v + 10 for v in baseline]
    shift = stats.hodges_lehmann(canary, baseline, 0.98)
    assert shift.estimate == 10
    assert shift.lower < 10 < shift.upper


def test_hodges_lehmann_exact_interval_uses_the_u_distribution() -> None:
    # n = m = 5 at 90 %: P(U <= 4) = 12/252 = 0.0476 <= 0.05 < P(U <= 5) = 19/252, so k = 5
    # and the interval is [D(5), D(21)] of the 25 sorted differences (as R's wilcox.test).
    shift = stats.hodges_lehmann([6.0, 7.0, 8.0, 9.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0], 0.9)
    diffs = sorted(a - b for a in range(6, 11) for b in range(1, 6))
    assert shift.estimate == 5
    assert (shift.lower, shift.upper) == (diffs[4], diffs[20])


def test_hodges_lehmann_interval_covers_the_true_shift_at_its_confidence() -> None:
    rng = random.Random(11)
    covered = 0
    runs = 300
    for _ in range(runs):
        baseline = [rng.lognormvariate(0, 1) for _ in range(40)]
        canary = [rng.lognormvariate(0, 1) + 2.0 for _ in range(30)]
        shift = stats.hodges_lehmann(canary, baseline, 0.9)
        covered += shift.lower <= 2.0 <= shift.upper
    # 90 % nominal; binomial sd over 300 runs is 1.7 points.
    assert 0.84 <= covered / runs <= 0.97


@pytest.mark.parametrize("seed", range(3))
def test_fisher_exact_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(30):
        nc, nb = rng.randint(1, 500), rng.randint(1, 3000)
        ec, eb = rng.randint(0, min(nc, 25)), rng.randint(0, min(nb, 40))
        theirs = scipy_stats.fisher_exact([[ec, nc - ec], [eb, nb - eb]]).pvalue
        assert stats.fisher_exact(ec, nc, eb, nb).p_value == pytest.approx(theirs, rel=1e-7)


def test_proportion_u_is_mann_whitney_on_zero_one_samples() -> None:
    canary = [1.0] * 7 + [0.0] * 93
    baseline = [1.0] * 4 + [0.0] * 396
    expected = scipy_stats.mannwhitneyu(canary, baseline, alternative="two-sided").statistic
    assert stats.proportion_u(7, 100, 4, 400) == pytest.approx(expected)


def test_proportion_difference_interval_contains_estimate() -> None:
    shift = stats.proportion_difference(30, 500, 20, 2000, 0.98)
    assert shift.estimate == pytest.approx(30 / 500 - 20 / 2000)
    assert shift.lower < shift.estimate < shift.upper
    assert shift.lower > 0  # 6 % vs 1 % on these counts is clearly different


def test_quantile_matches_numpy_linear() -> None:
    np = pytest.importorskip("numpy")
    rng = random.Random(5)
    values = [rng.random() for _ in range(37)]
    for q in (0.05, 0.5, 0.95, 0.99):
        assert stats.quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_quantile_lower_bound_is_conservative() -> None:
    values = [float(i) for i in range(1, 101)]
    bound = stats.quantile_lower_bound(values, 0.95, 0.98)
    assert bound is not None and bound < stats.quantile(values, 0.95)
    # Of 3 values, X(2) is a 98 % lower bound of the p95: P(Binomial(3, .95) >= 2) = 0.993,
    # X(3) is not: 0.95^3 = 0.857.
    assert stats.quantile_lower_bound([1.0, 2.0, 3.0], 0.95, 0.98) == 2.0
    assert stats.quantile_lower_bound([1.0], 0.01, 0.98) is None


def test_wilson_interval_bounds() -> None:
    low, high = stats.wilson_interval(0, 3, 0.96)
    assert low == 0 and 0 < high < 1
    low, high = stats.wilson_interval(50, 100, 0.95)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert not math.isnan(low)


def test_binomial_bounds_are_clopper_pearson() -> None:
    low, high = stats.binomial_bounds(1, 3, 0.98)
    assert low == pytest.approx(1 - 0.98 ** (1 / 3), rel=1e-6)
    beta = scipy_stats.beta
    for events, total in ((0, 10), (7, 100), (300, 1000), (1000, 1000)):
        low, high = stats.binomial_bounds(events, total, 0.98)
        expected_low = beta.ppf(0.02, events, total - events + 1) if events else 0.0
        expected_high = beta.ppf(0.98, events + 1, total - events) if events < total else 1.0
        assert low == pytest.approx(expected_low, abs=1e-7)
        assert high == pytest.approx(expected_high, abs=1e-7)


# ---- planned looks: the ruled-out bound ----------------------------------------------------


def test_the_looks_spend_exactly_the_tail_and_nothing_past_the_plan() -> None:
    for planned in (1, 2, 10):
        shares = [stats.spent_alpha(stats.Look(k, planned), 0.025) for k in range(1, planned + 1)]
        assert math.isclose(sum(shares), 0.025)
        assert shares[-1] == max(shares)  # the last look, with the most data, spends most
    assert stats.spent_alpha(stats.Look(11, 10), 0.025) == 0.0
    with pytest.raises(ValueError):
        stats.Look(0, 10)


def test_the_ruled_out_bound_is_tight_on_the_last_look_and_open_past_the_plan() -> None:
    fixed = stats.proportion_difference(5, 600, 18, 2400, 0.95)
    mixture = stats.always_valid(fixed, 0.02)
    last = stats.ruled_out_bound(fixed, stats.Look(10, 10))
    first = stats.ruled_out_bound(fixed, stats.Look(1, 10))
    assert fixed.upper < last.upper < mixture.upper  # narrower than always-valid at the end
    assert last.upper < first.upper  # an early look needs a clearer result
    assert last.estimate == fixed.estimate and last.lower < fixed.estimate
    past = stats.ruled_out_bound(fixed, stats.Look(11, 10))
    assert past.upper == math.inf and past.lower == -math.inf


def test_a_real_regression_is_ruled_out_at_some_look_no_more_often_than_the_tail() -> None:
    # A canary truly worse by exactly the tolerance, looked at after every interval of a
    # growing window: the chance that any of the 10 looks rules the regression out (and so
    # could promote it) must stay within the 2.5 % one-sided tail of a 95 % interval.
    rng = random.Random(2026)
    base_rate, tolerance, planned, runs = 0.01, 0.02, 10, 2000
    wrongly_ruled_out = 0
    for _ in range(runs):
        events_c = events_b = total_c = total_b = 0
        for k in range(1, planned + 1):
            total_c += 60
            total_b += 240
            events_c += sum(rng.random() < base_rate + tolerance for _ in range(60))
            events_b += sum(rng.random() < base_rate for _ in range(240))
            fixed = stats.proportion_difference(events_c, total_c, events_b, total_b, 0.95)
            if stats.ruled_out_bound(fixed, stats.Look(k, planned)).upper <= tolerance:
                wrongly_ruled_out += 1
                break
    assert wrongly_ruled_out / runs <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / runs)
