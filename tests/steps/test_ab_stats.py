"""ab_stats against published values and against independent computations."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from steps.hsml import ab_stats
from steps.hsml.cli_errors import UsageError


def test_lan_demets_obf_boundaries_match_gsdesign_and_ldbounds():
    # gsDesign(k=3, test.type=2, alpha=0.025, sfu=sfLDOF) and ldbounds (Reboussin et al. 2000) for a symmetric
    # two-sided 0.05 test: 3.7103, 2.5114, 1.9930; five equally spaced looks: 4.8769, 3.3569, 2.6803, 2.2898, 2.0310.
    assert ab_stats.group_sequential_boundaries([1 / 3, 2 / 3, 1], 0.05) == pytest.approx(
        [3.7103, 2.5114, 1.9930], abs=2e-4)
    assert ab_stats.group_sequential_boundaries([0.2, 0.4, 0.6, 0.8, 1.0], 0.05) == pytest.approx(
        [4.8769, 3.3569, 2.6803, 2.2898, 2.0310], abs=3e-4)


def test_one_look_is_the_fixed_sample_test():
    assert ab_stats.group_sequential_boundaries([1.0], 0.05) == pytest.approx([stats.norm.isf(0.025)], abs=1e-6)


def test_recursion_reproduces_the_classical_obrien_fleming_constant():
    # Classical O'Brien–Fleming, K = 3, two-sided 0.05: c_k = C sqrt(K/k) with C = 2.004 (Jennison & Turnbull
    # 2000, table 2.3; i.e. 3.471, 2.454, 2.004). Our crossing probabilities must give back alpha for it.
    c = 2.004
    up, low = ab_stats.crossing_probabilities([1 / 3, 2 / 3, 1], [c * math.sqrt(3), c * math.sqrt(1.5), c])
    assert sum(up) + sum(low) == pytest.approx(0.05, abs=2e-4)


def test_boundaries_spend_exactly_alpha_per_look_unequal_fractions():
    fractions = [0.25, 0.6, 1.0]
    c = ab_stats.group_sequential_boundaries(fractions, 0.05)
    up, low = ab_stats.crossing_probabilities(fractions, c)
    spent = np.cumsum(np.add(up, low))
    assert spent == pytest.approx([ab_stats.obrien_fleming_spending(t, 0.05) for t in fractions], abs=1e-7)
    # First look has a closed form: c_1 = z at the per-side spent alpha.
    assert c[0] == pytest.approx(stats.norm.isf(ab_stats.obrien_fleming_spending(0.25, 0.05) / 2), abs=1e-6)


def test_type_one_error_by_direct_simulation_of_the_z_path():
    # Independent check: Brownian motion sampled at the looks, no numerical integration.
    rng = np.random.default_rng(7)
    t = np.array([1 / 3, 2 / 3, 1.0])
    inc = rng.standard_normal((400_000, 3)) * np.sqrt(np.diff(np.concatenate([[0.0], t])))
    z = np.cumsum(inc, axis=1) / np.sqrt(t)
    c = np.array(ab_stats.group_sequential_boundaries(t, 0.05))
    rate = np.mean(np.any(np.abs(z) >= c, axis=1))
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 400_000)
    naive = np.mean(np.any(np.abs(z) >= 1.96, axis=1))
    assert naive > 0.075      # peeking three times at 1.96 is about 0.083 (Armitage et al. 1969)


def test_inflation_factor_and_power():
    r = ab_stats.inflation_factor(3, 0.05, 0.8)
    assert 1.005 < r < 1.022    # below the classical OBF design's 1.022 (Jennison & Turnbull table 2.3)
    assert ab_stats.inflation_factor(1, 0.05, 0.8) == 1.0
    c = ab_stats.group_sequential_boundaries([1 / 3, 2 / 3, 1], 0.05)
    theta = (stats.norm.isf(0.025) + stats.norm.isf(0.2)) * math.sqrt(r)
    up, _ = ab_stats.crossing_probabilities([1 / 3, 2 / 3, 1], c, drift=theta)
    assert sum(up) == pytest.approx(0.8, abs=1e-6)


def test_f_equals_z_squared_identity_for_two_arms():
    rng = np.random.default_rng(3)
    a = (rng.random(157) < 0.4).astype(float)
    b = (rng.random(203) < 0.55).astype(float)
    f, p = ab_stats.one_way_anova([a, b])
    z = ab_stats.two_proportion_z(int(a.sum()), a.size, int(b.sum()), b.size)
    n = a.size + b.size
    assert f == pytest.approx((n - 2) * z * z / (n - z * z), rel=1e-10)
    assert p == pytest.approx(stats.ttest_ind(a, b).pvalue, rel=1e-8)
    assert z > 0      # challenger (second group) better -> positive z


def test_anova_degenerate_groups():
    assert ab_stats.one_way_anova([[1, 1], [1, 1, 1]]) == (pytest.approx(float("nan"), nan_ok=True), 1.0)
    assert ab_stats.one_way_anova([[0, 0], [1, 1]]) == (float("inf"), 0.0)
    with pytest.raises(UsageError):
        ab_stats.one_way_anova([[1, 0], []])


def test_newcombe_published_example():
    # Newcombe (1998), Stat. Med. 17:873, table II example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    est, low, high = ab_stats.newcombe_interval(56, 70, 48, 80, 0.95)
    assert est == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    # Example (b), 9/10 - 3/10: 0.1705 to 0.8090.
    assert ab_stats.newcombe_interval(9, 10, 3, 10)[1:] == pytest.approx((0.1705, 0.8090), abs=1e-4)


def test_srm():
    assert ab_stats.srm_p_value({"a": 5000, "b": 5000}, {"a": 0.5, "b": 0.5}) == pytest.approx(1.0)
    assert ab_stats.srm_p_value({"a": 4500, "b": 5500}, {"a": 0.5, "b": 0.5}) < 1e-20
    # Weights need not sum to 1 over the tested arms.
    assert ab_stats.srm_p_value({"a": 8000, "b": 2000}, {"a": 0.8, "b": 0.2, "c": 0.0}) == pytest.approx(1.0)
    with pytest.raises(UsageError, match="no weight"):
        ab_stats.srm_p_value({"a": 1, "z": 1}, {"a": 0.5, "b": 0.5})


def test_p95():
    assert ab_stats.p95(range(1, 101)) == pytest.approx(95.05)
    assert ab_stats.p95([]) is None


def test_bad_inputs_refused():
    with pytest.raises(UsageError):
        ab_stats.group_sequential_boundaries([0.5, 0.4, 1.0], 0.05)
    with pytest.raises(UsageError):
        ab_stats.group_sequential_boundaries([0.5, 1.0], 1.5)
    with pytest.raises(UsageError):
        ab_stats.two_proportion_z(1, 0, 1, 2)


def test_quantile_interval_covers_the_true_p95():
    rng = np.random.default_rng(11)
    true = stats.lognorm(s=0.4, scale=20.0).ppf(0.95)
    hits = 0
    for _ in range(400):
        low, high = ab_stats.quantile_interval(rng.lognormal(np.log(20.0), 0.4, 300), 0.95, 0.9)
        hits += low <= true <= high
    assert 0.86 <= hits / 400 <= 0.97     # nominal 90 % (order statistics are a little conservative)
    # Two values: the smaller is a valid lower bound (P = 1 - 0.05^2), nothing bounds the p95 from above.
    assert ab_stats.quantile_interval([1.0, 2.0], 0.95, 0.99) == (1.0, math.inf)
