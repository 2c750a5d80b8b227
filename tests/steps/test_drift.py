"""drift.py: smoothed KL, histograms, bootstrap thresholds, detect()'s verdicts and the plot."""
import math

import numpy as np
import pytest

from steps.hsml import drift
from steps.hsml.drift_baseline import FEATURES, baseline_from_rows


def in_domain_rows(n: int, seed: int, *, chapter_pool=("61", "62", "73", "84", "85"), length_shift: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        tokens = int(rng.integers(1, 8)) + length_shift
        rows.append({"length_chars": tokens * 6 + int(rng.integers(0, 5)), "length_tokens": tokens,
                     "oov_rate": float(rng.choice([0.0, 0.0, 0.25, 0.5])),
                     "predicted_chapter": str(rng.choice(chapter_pool)),
                     "top1_probability": float(rng.beta(4, 2))})
    return rows


@pytest.fixture(scope="module")
def baseline():
    return baseline_from_rows(in_domain_rows(600, seed=1))


def test_smoothed_kl_is_finite_on_empty_bins_and_zero_on_equal_distributions():
    assert drift.smoothed_kl([5, 5, 0], [5, 5, 0]) == pytest.approx(0.0)
    value = drift.smoothed_kl([10, 0, 0], [0, 0, 10])
    assert math.isfinite(value) and value > 5  # log(1 / 1e-4) ~ 9.2, after renormalisation
    assert drift.smoothed_kl([0, 0], [0, 0]) == 0.0


def test_smoothed_kl_matches_scipy_entropy_with_the_same_smoothing():
    from scipy.stats import entropy

    p, q = np.array([3.0, 1.0, 0.0, 6.0]), np.array([1.0, 1.0, 2.0, 0.0])
    ps, qs = np.where(p > 0, p / p.sum(), 1e-4), np.where(q > 0, q / q.sum(), 1e-4)
    assert drift.smoothed_kl(p, q) == pytest.approx(entropy(ps / ps.sum(), qs / qs.sum()))


def test_histogram_uses_open_ends_and_other(baseline):
    edges = baseline["features"]["length_tokens"]["edges"]
    counts = drift.histogram([-5, 10_000], "length_tokens", baseline)
    assert counts[0] == 1 and counts[len(edges)] == 1 and counts.sum() == 2
    chapters = drift.histogram(["61", "other", "zz"], "predicted_chapter", baseline)
    assert chapters[60] == 1 and chapters[-1] == 2 and len(chapters) == 98


def test_threshold_shrinks_with_window_size_and_is_reproducible(baseline):
    small = drift.calibrate_threshold(baseline, "predicted_chapter", 100, bootstraps=200)
    large = drift.calibrate_threshold(baseline, "predicted_chapter", 2000, bootstraps=200)
    assert small > large > 0
    assert small == drift.calibrate_threshold(baseline, "predicted_chapter", 100, bootstraps=200)


def test_detect_refuses_small_windows_without_a_metric(baseline):
    result = drift.detect(baseline, in_domain_rows(drift.MIN_WINDOW - 1, seed=2))
    assert result["drift"] is False and result["n"] == drift.MIN_WINDOW - 1 and result["min_n"] == drift.MIN_WINDOW
    assert result["metric"]["value"] is None and "not enough data (n < min)" in result["reason"]


def test_detect_passes_in_domain_windows_and_flags_shifted_ones(baseline):
    quiet = drift.detect(baseline, in_domain_rows(500, seed=3), bootstraps=500)
    assert quiet["drift"] is False and 0 < quiet["metric"]["value"] <= 1
    assert set(quiet["features"]) == set(FEATURES)
    shifted = drift.detect(baseline, in_domain_rows(500, seed=4, chapter_pool=("01", "02"), length_shift=5),
                           bootstraps=500)
    assert shifted["drift"] is True and shifted["metric"]["value"] > 1
    assert shifted["features"]["predicted_chapter"]["drift"] and shifted["features"]["length_tokens"]["drift"]
    assert shifted["metric"]["name"] == "KLDivergence" and shifted["metric"]["namespace"] == "HSMLOps/Drift"


def test_plot_drift_writes_a_png(baseline, tmp_path):
    window = in_domain_rows(200, seed=5)
    path = drift.plot_drift(baseline, window, drift.detect(baseline, window, bootstraps=200), tmp_path / "d.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_feature_constant_in_the_baseline_gets_the_threshold_floor_not_zero():
    rows = in_domain_rows(600, seed=1)
    for row in rows:
        row["length_tokens"] = 3  # every held-out row in one bin: each bootstrap replicate has KL exactly 0
    constant = baseline_from_rows(rows)
    assert drift.calibrate_threshold(constant, "length_tokens", 200, bootstraps=200) == 0.0

    same = in_domain_rows(200, seed=3)
    for row in same:
        row["length_tokens"] = 3
    quiet = drift.detect(constant, same, bootstraps=200)["features"]["length_tokens"]
    assert quiet == {"kl_divergence": pytest.approx(0.0, abs=1e-12), "threshold": drift.THRESHOLD_FLOOR,
                     "drift": False}

    one_off = [dict(row) for row in same]
    one_off[0]["length_tokens"] = 1  # one row of 200 in another bin: a small, finite ratio, not kl / 0
    result = drift.detect(constant, one_off, bootstraps=200)
    feature = result["features"]["length_tokens"]
    assert feature["threshold"] == drift.THRESHOLD_FLOOR and 0 < feature["kl_divergence"] < 0.01
    assert math.isfinite(result["metric"]["value"]) and result["metric"]["value"] < 10
