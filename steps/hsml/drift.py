"""Drift of a traffic window against a model's baseline (drift_baseline.py): smoothed KL per feature, with
each feature's threshold calibrated to the window's size by bootstrap.

The statistic: KL(baseline ‖ window) over the baseline's fixed bins, as Evidently's `kl_div`
(scipy.stats.entropy(reference, current)), with empty bins set to epsilon = 1e-4 in both distributions and both
renormalised, so it is never NaN or ∞.

The threshold: a fixed 0.1 means nothing across window sizes (for 98 chapter categories it is about the noise
level at n = 500 and far below it at n = 100). So each feature's threshold is a high quantile of the same
statistic under no drift, by a two-sample bootstrap from the held-out rows kept in the baseline: each replicate
draws a stand-in baseline of the baseline's size m and a window of size n, both with replacement, and computes
KL between them. Drawing the baseline too is what keeps the false-alarm rate flat at large n: there the
baseline's own sampling error (m is ~600 validation rows) is larger than the window's.

A window drifts when any feature does. Five features at 1 % each would give up to ~5 % false alarms per window,
so detect() uses quantile 1 - 0.01/5 per feature (Bonferroni; the features are correlated, so it is
conservative). The published metric, HSMLOps/Drift / KLDivergence, is the largest kl/threshold over features:
drift iff it is above 1, which is the alarm threshold in infra/. A threshold never goes below THRESHOLD_FLOOR
(a feature constant in the baseline bootstraps to 0).

numpy + stdlib only; matplotlib only inside plot_drift.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from steps.hsml.drift_baseline import CHAPTERS, FEATURES, bin_index

EPSILON = 1e-4
# Below 100 descriptions the chapter histogram (98 categories) is mostly empty bins: the statistic measures the
# smoothing, the calibrated threshold is so high that no realistic shift passes it, and one odd declaration
# moves a length bin by a whole percent. 100 is also where the bench's in-domain false-alarm rate is first
# checked (bench/results/drift.md).
MIN_WINDOW = 100
FALSE_ALARM_RATE = 0.01  # per window, all features together
FEATURE_QUANTILE = 1 - FALSE_ALARM_RATE / len(FEATURES)
DETECT_BOOTSTRAPS = 2000  # ~4 replicates above the 99.8th percentile
METRIC_NAME = "KLDivergence"
METRIC_NAMESPACE = "HSMLOps/Drift"
METRIC_DIMENSION = "ModelPackageGroup"
ALARM_THRESHOLD = 1.0  # on the metric: the largest kl / threshold
# A feature that is constant in the baseline (every held-out row in one bin) bootstraps to a threshold of exactly
# 0: every replicate is that one bin, so KL is 0, and any window with a single row elsewhere would give kl/0.
# The floor is the KL of moving about 0.1 % of the mass into another bin (-log(1 - 0.001) ≈ 0.001 nats): below
# it a difference is not drift whatever the bootstrap says. It is ~25x below the smallest calibrated threshold
# on real data (0.024 nats, oov_rate at n = 2,000 in bench/results/drift.md), so it changes no real verdict.
THRESHOLD_FLOOR = 1e-3


def smoothed_kl(p_counts, q_counts, epsilon: float = EPSILON) -> float:
    """KL(p ‖ q) in nats over the same bins; counts or probabilities; empty bins become epsilon, then both are
    renormalised. 0.0 when both are empty."""
    p, q = _smoothed(np.asarray(p_counts, dtype=float), epsilon), _smoothed(np.asarray(q_counts, dtype=float), epsilon)
    if p is None or q is None:
        return 0.0
    return float(np.sum(p * np.log(p / q)))


def _smoothed(counts: np.ndarray, epsilon: float) -> np.ndarray | None:
    total = counts.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        return None
    distribution = counts / total
    distribution = np.where(distribution > 0, distribution, epsilon)
    return distribution / distribution.sum(axis=-1, keepdims=True)


def _kl_rows(p_counts: np.ndarray, q_counts: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """smoothed_kl for each row of two [B, bins] count matrices (every row non-empty)."""
    p, q = _smoothed(p_counts.astype(float), epsilon), _smoothed(q_counts.astype(float), epsilon)
    return np.sum(p * np.log(p / q), axis=1)


def bin_ids(values, feature: str, baseline: dict) -> np.ndarray:
    spec = baseline["features"][feature]
    if spec["kind"] == "categorical":
        index = {category: i for i, category in enumerate(spec["categories"])}
        other = index.get(CHAPTERS[-1], len(spec["categories"]) - 1)
        return np.array([index.get(str(v), other) for v in values], dtype=np.int64)
    return bin_index(values, spec["edges"]).astype(np.int64)


def bin_count(baseline: dict, feature: str) -> int:
    return len(baseline["features"][feature]["counts"])


def histogram(values, feature: str, baseline: dict) -> np.ndarray:
    """Counts of `values` in the baseline's bins (or categories) for `feature`."""
    return np.bincount(bin_ids(values, feature, baseline), minlength=bin_count(baseline, feature))


def _bootstrap_counts(ids: np.ndarray, bins: int, size: int, replicates: int, rng) -> np.ndarray:
    draws = ids[rng.integers(0, len(ids), size=(replicates, size))]
    offsets = (np.arange(replicates) * bins)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=replicates * bins).reshape(replicates, bins)


def null_statistics(baseline: dict, feature: str, n: int, *, bootstraps: int = 500, seed: int = 0) -> np.ndarray:
    """The statistic under no drift at window size n: two-sample bootstrap from the baseline's held-out rows."""
    ids = bin_ids(baseline["rows"][feature], feature, baseline)
    bins, rng = bin_count(baseline, feature), np.random.default_rng(seed)
    statistics = []
    for start in range(0, bootstraps, 250):  # bounded memory: 250 x (m + n) draws at a time
        chunk = min(250, bootstraps - start)
        reference = _bootstrap_counts(ids, bins, len(ids), chunk, rng)
        window = _bootstrap_counts(ids, bins, n, chunk, rng)
        statistics.append(_kl_rows(reference, window))
    return np.concatenate(statistics)


def calibrate_threshold(baseline: dict, feature: str, n: int, *, bootstraps: int = 500, quantile: float = 0.99,
                        seed: int = 0) -> float:
    """The `quantile` of smoothed KL over bootstrap no-drift windows of size n (see the module docstring)."""
    if n < 1:
        raise ValueError(f"window size must be at least 1, got {n}")
    return float(np.quantile(null_statistics(baseline, feature, n, bootstraps=bootstraps, seed=seed), quantile))


def detect(baseline: dict, window_rows: list[dict], *, seed: int = 0, bootstraps: int = DETECT_BOOTSTRAPS,
           quantile: float = FEATURE_QUANTILE, thresholds: dict | None = None) -> dict:
    """Drift of a window (row_features' dicts) against the baseline. `thresholds` ({feature: value}) skips the
    bootstrap, e.g. when many windows of one size are tested (the bench)."""
    n = len(window_rows)
    metric = {"name": METRIC_NAME, "namespace": METRIC_NAMESPACE, "dimension": METRIC_DIMENSION,
              "alarm_threshold": ALARM_THRESHOLD, "value": None}
    if n < MIN_WINDOW:
        return {"drift": False, "n": n, "min_n": MIN_WINDOW, "features": {}, "metric": metric,
                "reason": f"not enough data (n < min): {n} descriptions in the window, {MIN_WINDOW} needed"}
    features, ratios = {}, {}
    for i, feature in enumerate(FEATURES):
        kl = smoothed_kl(baseline["features"][feature]["counts"],
                         histogram([row[feature] for row in window_rows], feature, baseline))
        calibrated = (thresholds[feature] if thresholds else
                      calibrate_threshold(baseline, feature, n, bootstraps=bootstraps, quantile=quantile,
                                          seed=seed + i))
        threshold = max(calibrated, THRESHOLD_FLOOR)
        features[feature] = {"kl_divergence": kl, "threshold": threshold, "drift": kl > threshold}
        ratios[feature] = kl / threshold
    worst = max(ratios, key=ratios.get)
    drifted = [name for name in FEATURES if features[name]["drift"]]
    metric["value"] = ratios[worst]
    reason = (f"drift in {', '.join(drifted)}" if drifted else "no feature above its threshold") + \
        f" (largest kl/threshold {ratios[worst]:.2f}, {worst}; n = {n})"
    return {"drift": bool(drifted), "n": n, "min_n": MIN_WINDOW, "features": features, "metric": metric,
            "reason": reason}


def thresholds_for(baseline: dict, n: int, *, seed: int = 0, bootstraps: int = DETECT_BOOTSTRAPS,
                   quantile: float = FEATURE_QUANTILE) -> dict:
    """The per-feature calibrated thresholds for a window of size n (detect() raises each to THRESHOLD_FLOOR)."""
    return {feature: calibrate_threshold(baseline, feature, n, bootstraps=bootstraps, quantile=quantile, seed=seed + i)
            for i, feature in enumerate(FEATURES)}


def plot_drift(baseline: dict, window_rows: list[dict], result: dict, path: str | Path) -> Path:
    """One panel per feature: the baseline's distribution vs the window's, over the baseline's bins."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(len(FEATURES), 1, figsize=(10, 2.6 * len(FEATURES)))
    for axis, feature in zip(axes, FEATURES):
        spec = baseline["features"][feature]
        reference = np.asarray(spec["distribution"], dtype=float)
        counts = histogram([row[feature] for row in window_rows], feature, baseline) if window_rows else \
            np.zeros(len(reference))
        window = counts / counts.sum() if counts.sum() else counts.astype(float)
        positions = np.arange(len(reference))
        axis.bar(positions - 0.2, reference, width=0.4, label=f"baseline (n = {baseline['n']})")
        axis.bar(positions + 0.2, window, width=0.4, label=f"window (n = {len(window_rows)})")
        if spec["kind"] == "categorical":
            step = 5
            axis.set_xticks(positions[::step], [spec["categories"][i] for i in positions[::step]], fontsize=7)
        else:
            labels = [f"<{spec['edges'][0]:.3g}"] if spec["edges"] else ["all"]
            labels += [f"≥{edge:.3g}" for edge in spec["edges"]]
            axis.set_xticks(positions, labels, fontsize=7)
        verdict = result.get("features", {}).get(feature)
        title = feature if verdict is None else (
            f"{feature}: KL {verdict['kl_divergence']:.3f} vs threshold {verdict['threshold']:.3f}"
            f"{' DRIFT' if verdict['drift'] else ''}")
        axis.set_title(title, fontsize=9)
        axis.legend(fontsize=7)
    figure.suptitle(result.get("reason", ""), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
