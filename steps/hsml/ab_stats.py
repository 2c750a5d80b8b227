"""The statistics of an A/B test between two models: sequential boundaries, ANOVA, intervals, sample-ratio mismatch.

Pure functions on counts and arrays (numpy and scipy only): they run inside the monitoring Processing job, which
holds only steps/.

The sequential design is the usual group-sequential one (Jennison & Turnbull, *Group Sequential Methods with
Applications to Clinical Trials*, 2000, ch. 2 and 7): the z statistic of the difference is looked at K times, at
information fractions t_1 < ... < t_K = 1, and at look k it is compared with a boundary c_k. The boundaries come
from the Lan–DeMets alpha-spending function that mimics O'Brien–Fleming (Lan & DeMets, Biometrika 70, 1983):
look k spends alpha(t_k) - alpha(t_{k-1}) of the type I error, and c_k is solved so that, under H0, the
probability of first crossing at look k is exactly that. Under H0 the z statistics behave like a Brownian motion
B(t)/sqrt(t); the crossing probabilities are computed by recursive numerical integration of B's density over the
continuation region (Armitage, McPherson & Rowe 1969; Jennison & Turnbull ch. 19), not by simulation or a table.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np
from scipy import optimize, stats

from steps.hsml.cli_errors import UsageError

# Grid points per standard deviation of the Brownian increment, and how many sds the grid spans: Simpson's
# rule on this grid gives crossing probabilities to about 1e-9, far below what any boundary's 3rd decimal needs.
_POINTS_PER_SD = 40
_SPAN_SD = 9.0


def obrien_fleming_spending(t: float, alpha: float) -> float:
    """Two-sided alpha spent by information fraction t: Lan–DeMets O'Brien–Fleming-type spending on each side.

    Each side spends f(t; alpha/2) = 2 - 2 Phi(z_{1 - alpha/4} / sqrt(t)), the form of gsDesign's sfLDOF and of
    ldbounds (Reboussin, DeMets, Kim & Lan, Control. Clin. Trials 21, 2000) for a symmetric two-sided test, so
    our boundaries can be checked against their published ones. Spends almost nothing early (t = 1/3 at
    alpha = 0.05: 0.0002 in all) and exactly alpha at t = 1.
    """
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha {alpha}: must be between 0 and 1")
    if t <= 0.0:
        return 0.0
    t = min(t, 1.0)
    one_side = 2.0 * stats.norm.sf(stats.norm.isf(alpha / 4.0) / math.sqrt(t))
    return float(2.0 * one_side)


def _simpson_weights(n: int, h: float) -> np.ndarray:
    """Simpson weights for n (odd) equally spaced points h apart."""
    w = np.ones(n)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w * h / 3.0


def _grid(half_width: float, sd: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on [-half_width, half_width], fine enough for increments of standard deviation sd."""
    n = int(math.ceil(2.0 * half_width / sd * _POINTS_PER_SD)) | 1
    n = max(n, 101)
    x = np.linspace(-half_width, half_width, n)
    return x, _simpson_weights(n, x[1] - x[0])


class _Recursion:
    """Density of B(t_k) on the continuation region of looks 1..k, with a drift theta (theta = 0 under H0).

    B has independent normal increments with mean theta * dt and variance dt; Z_k = B(t_k) / sqrt(t_k).
    """

    def __init__(self, theta: float = 0.0):
        self.theta = theta
        self.t_prev = 0.0
        self.x = np.zeros(1)      # the previous look's grid of B values (a point mass at 0 before look 1)
        self.w = np.ones(1)       # quadrature weights times density at those points
        self.first = True

    def crossing(self, t: float, c_upper: float, c_lower: float) -> tuple[float, float]:
        """P(first crossing at this look above c_upper, below c_lower), in z units, given no earlier crossing."""
        sd = math.sqrt(t - self.t_prev)
        mean = self.x + self.theta * (t - self.t_prev)
        up = stats.norm.sf((c_upper * math.sqrt(t) - mean) / sd)
        low = stats.norm.cdf((c_lower * math.sqrt(t) - mean) / sd)
        return float(np.dot(self.w, up)), float(np.dot(self.w, low))

    def advance(self, t: float, c_upper: float, c_lower: float) -> None:
        """Move to this look: keep B's density on the continuation region (c_lower, c_upper) in z units."""
        sd = math.sqrt(t - self.t_prev)
        lo, hi = c_lower * math.sqrt(t), c_upper * math.sqrt(t)
        # Finite bounds for the grid: past ~9 sd the density contributes nothing measurable.
        centre = float(np.dot(self.w, self.x) / max(self.w.sum(), 1e-300)) + self.theta * (t - self.t_prev)
        reach = _SPAN_SD * math.sqrt(t)
        lo, hi = max(lo, centre - reach), min(hi, centre + reach)
        n = max(int(math.ceil((hi - lo) / sd * _POINTS_PER_SD)) | 1, 101)
        y = np.linspace(lo, hi, n)
        mean = self.x + self.theta * (t - self.t_prev)
        kernel = stats.norm.pdf((y[:, None] - mean[None, :]) / sd) / sd
        density = kernel @ self.w
        self.x, self.w = y, density * _simpson_weights(n, y[1] - y[0])
        self.t_prev = t


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    t = [float(f) for f in fractions]
    if not t:
        raise UsageError("information fractions: need at least one look")
    if any(b <= a for a, b in zip(t, t[1:])) or t[0] <= 0.0 or t[-1] > 1.0 + 1e-12:
        raise UsageError(f"information fractions {t}: must increase strictly within (0, 1]")
    return t


@lru_cache(maxsize=4096)
def _boundaries(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    rec = _Recursion()
    spent_before = 0.0
    out = []
    for t in fractions:
        target = obrien_fleming_spending(t, alpha) - spent_before
        if target <= 1e-15:
            c = 40.0  # nothing to spend at this look: it cannot reject
        else:
            def excess(c: float, t=t, target=target) -> float:
                up, low = rec.crossing(t, c, -c)
                return up + low - target
            c = optimize.brentq(excess, 0.01, 40.0, xtol=1e-10)
        up, low = rec.crossing(t, c, -c)
        spent_before += up + low
        rec.advance(t, c, -c)
        out.append(float(c))
    return tuple(out)


def group_sequential_boundaries(fractions: Sequence[float], alpha: float) -> list[float]:
    """Symmetric two-sided z boundaries c_1..c_K at these information fractions, overall type I error alpha.

    Reject H0 at the first look k with |Z_k| >= c_k. With fractions (1/3, 2/3, 1) and alpha = 0.05: 3.710,
    2.511, 1.993 (gsDesign's sfLDOF at one-sided 0.025 gives the same; the classical O'Brien–Fleming design,
    which is not a spending design, has 3.471, 2.454, 2.004). The last fraction should be 1 for all of alpha to be spent.
    """
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha {alpha}: must be between 0 and 1")
    t = _check_fractions(fractions)
    return list(_boundaries(tuple(round(x, 12) for x in t), float(alpha)))


def crossing_probabilities(fractions: Sequence[float], boundaries: Sequence[float],
                           drift: float = 0.0) -> tuple[list[float], list[float]]:
    """P(first crossing at look k) above +c_k and below -c_k, when E[Z at t = 1] = drift."""
    t = _check_fractions(fractions)
    rec = _Recursion(theta=drift)
    ups, lows = [], []
    for tk, c in zip(t, boundaries):
        up, low = rec.crossing(tk, c, -c)
        ups.append(up)
        lows.append(low)
        rec.advance(tk, c, -c)
    return ups, lows


def inflation_factor(looks: int, alpha: float, power: float) -> float:
    """How many times the fixed-sample size the sequential design needs at its last look for the same power.

    Solves for the drift theta (E[Z] at t = 1) at which the chance of crossing the upper boundary at some look
    is `power`, and returns (theta / (z_{1-alpha/2} + z_power))^2. Equally spaced looks. Three looks at
    alpha 0.05, power 0.8: 1.013 (the classical O'Brien–Fleming design needs 1.022, Jennison & Turnbull
    table 2.3; spending-function boundaries are a little less steep at the end).
    """
    if looks < 1:
        raise UsageError(f"looks {looks}: need at least 1")
    if not 0.0 < power < 1.0:
        raise UsageError(f"power {power}: must be between 0 and 1")
    fractions = [(k + 1) / looks for k in range(looks)]
    c = group_sequential_boundaries(fractions, alpha)
    fixed = stats.norm.isf(alpha / 2.0) + stats.norm.isf(1.0 - power)
    if looks == 1:
        return 1.0

    def shortfall(theta: float) -> float:
        return sum(crossing_probabilities(fractions, c, theta)[0]) - power
    theta = optimize.brentq(shortfall, fixed * 0.8, fixed * 1.5, xtol=1e-9)
    return float((theta / fixed) ** 2)


def one_way_anova(groups: Sequence[Sequence[float]]) -> tuple[float, float]:
    """One-way ANOVA F and p-value (scipy.stats.f_oneway). Groups of 0/1 correctness, one per arm.

    Every value constant across all groups (all right, or all wrong) has no variance to test: F = nan, p = 1.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if len(arrays) < 2 or any(a.size == 0 for a in arrays):
        raise UsageError("ANOVA: need at least two non-empty groups")
    pooled = np.concatenate(arrays)
    if np.all(pooled == pooled[0]):
        return float("nan"), 1.0
    within = sum(float(((a - a.mean()) ** 2).sum()) for a in arrays)
    if within == 0.0:
        # Each group constant but groups differ: F is infinite, the difference certain.
        return float("inf"), 0.0
    result = stats.f_oneway(*arrays)
    return float(result.statistic), float(result.pvalue)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """Pooled two-proportion z of p2 - p1 (positive when group 2, the challenger, is better).

    For two arms of 0/1 outcomes with N = n1 + n2 rows, ANOVA's F = (N - 2) z^2 / (N - z^2): F and z^2 agree
    to a factor 1 + O(1/N).
    """
    if n1 <= 0 or n2 <= 0:
        raise UsageError(f"two-proportion z: each group needs rows (got n1={n1}, n2={n2})")
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if var == 0.0:
        return 0.0
    return float((p2 - p1) / math.sqrt(var))


def wilson_interval(x: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for one proportion."""
    if n <= 0:
        raise UsageError("Wilson interval: n must be positive")
    z = stats.norm.isf((1.0 - confidence) / 2.0)
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return (centre - half) / denom, (centre + half) / denom


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Newcombe's hybrid score interval (method 10, Newcombe, Stat. Med. 17, 1998) for p1 - p2.

    Returns (estimate, low, high). Newcombe's example 56/70 vs 48/80: 0.2000 (0.0524, 0.3339).
    """
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"confidence {confidence}: must be between 0 and 1")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, low, high


def srm_p_value(counts: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """Chi-square goodness of fit of the arms' row counts against the planned traffic weights.

    Only the arms in `counts` are tested; their weights are renormalised to sum to 1.
    """
    names = list(counts)
    missing = [n for n in names if n not in weights]
    if missing:
        raise UsageError(f"sample-ratio check: no weight for variant(s) {missing}")
    observed = np.array([counts[n] for n in names], dtype=float)
    w = np.array([float(weights[n]) for n in names])
    if np.any(w <= 0):
        raise UsageError(f"sample-ratio check: weights must be positive ({dict(weights)})")
    total = observed.sum()
    if total == 0:
        return 1.0
    expected = w / w.sum() * total
    return float(stats.chisquare(observed, expected).pvalue)


def quantile_interval(values: Sequence[float], q: float, confidence: float) -> tuple[float, float]:
    """Distribution-free confidence interval for the q-quantile from order statistics (binomial counts).

    The number of values below the true quantile is Binomial(n, q), so the order statistics at that
    binomial's alpha/2 and 1 - alpha/2 points bracket it (Conover, *Practical Nonparametric Statistics*, 3.2).
    An end that too few values cannot pin down is -inf or +inf.
    """
    x = np.sort(np.asarray(list(values), dtype=float))
    n = x.size
    a = (1.0 - confidence) / 2.0
    lo = int(stats.binom.ppf(a, n, q))            # x[lo - 1] is the lo-th smallest (1-based lo)
    hi = int(stats.binom.ppf(1.0 - a, n, q)) + 1
    low = float(x[lo - 1]) if lo >= 1 else -math.inf
    high = float(x[hi - 1]) if hi <= n else math.inf
    return low, high


def p95(values: Sequence[float]) -> float | None:
    """95th percentile (numpy's default linear interpolation); None for no values."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return None
    return float(np.percentile(arr, 95))
