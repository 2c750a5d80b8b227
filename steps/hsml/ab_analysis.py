"""One look at an A/B experiment: from joined observations to a decision, with everything it rests on.

`analyze(plan, observations, now=...)` is a pure function (no I/O); the monitoring job and `hscode ab analyze`
join capture with ground truth into `Observation`s and call it. The rule:

1. sample-ratio mismatch (chi-square of arm row counts against the weights) p < 0.001 -> `invalid`;
2. a failed guardrail (latency, error rate, label coverage) -> `invalid`;
3. only at a planned look, i.e. the first analysis after the labelled rows per arm pass the next planned
   information fraction, is the z statistic compared with the boundary: z >= c -> `promote`, z <= -c -> `keep`,
   else `continue`; at the last look, not crossing -> `keep` ("no significant improvement"). Any other
   analysis is a peek and answers `continue`, so peeking cannot spend type I error.

The boundaries are Lan–DeMets spending boundaries at the information fractions of the looks actually taken
(from `history`), so a look that comes late, or a skipped look, keeps the overall error at alpha. No futility
rule: a challenger that is not better at the last look is kept out anyway, and a futility stop would only save
traffic at the price of power. Labelled error rows count as wrong (the broker got no code: intention to treat).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

import numpy as np
from scipy import stats

from steps.hsml import ab_stats
from steps.hsml.ab_plan import Plan, plan_hash
from steps.hsml.cli_errors import UsageError

SRM_THRESHOLD = 0.001
# Guardrails on error rate and label coverage fail only when the data show the breach beyond noise: a one-sided
# 99.5 % bound (two-sided 99 % interval) past the limit. A point estimate would fail half of all A/A tests.
GUARDRAIL_CONFIDENCE = 0.99
_EPS = 1e-9


@dataclass(slots=True)
class Observation:
    variant: str
    row_id: str
    inference_time: datetime
    predicted: str | None     # top-1 HS6; None for an error row
    label: str | None         # the broker's HS6; None while unlabelled
    latency_ms: float | None
    error: bool


class _Arm:
    __slots__ = ("n", "errors", "latencies", "hs6", "hs4", "eligible", "eligible_labelled")

    def __init__(self) -> None:
        self.n = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.hs6: list[bool] = []
        self.hs4: list[bool] = []
        self.eligible = 0              # predictions older than the label window
        self.eligible_labelled = 0


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _fill(arms: dict[str, _Arm], observations: Iterable[Observation], cutoff: datetime,
          unknown: dict[str, int]) -> None:
    # One tight pass over the rows: the simulation study feeds it tens of millions per run.
    for ob in observations:
        arm = arms.get(ob.variant)
        if arm is None:
            unknown[ob.variant] = unknown.get(ob.variant, 0) + 1
            continue
        arm.n += 1
        if ob.error:
            arm.errors += 1
        if ob.latency_ms is not None:
            arm.latencies.append(ob.latency_ms)
        old = ob.inference_time <= cutoff
        if old:
            arm.eligible += 1
        if ob.label is not None:
            if old:
                arm.eligible_labelled += 1
            p = None if ob.error else ob.predicted
            arm.hs6.append(p is not None and p == ob.label)
            arm.hs4.append(p is not None and p[:4] == ob.label[:4])


def _collect(plan: Plan, observations: Iterable[Observation], now: datetime) -> dict[str, _Arm]:
    arms = {plan.champion: _Arm(), plan.challenger: _Arm()}
    cutoff = now - timedelta(hours=plan.label_window_hours)
    unknown: dict[str, int] = {}
    try:
        _fill(arms, observations, cutoff, unknown)
    except TypeError as error:
        if "offset-naive and offset-aware" not in str(error):
            raise
        raise UsageError("inference times and `now` must both carry a time zone, or both not: "
                         f"now is {now.isoformat()}") from None
    if unknown:
        raise UsageError(f"observations name variant(s) {sorted(unknown)} that the plan does not "
                         f"(plan: champion {plan.champion!r}, challenger {plan.challenger!r})")
    empty = [name for name, arm in arms.items() if arm.n == 0]
    if empty:
        raise UsageError(f"variant(s) {empty} have no captured predictions: is the router sending them traffic?")
    return arms


def _variant_summary(arm: _Arm) -> dict[str, Any]:
    labelled = len(arm.hs6)
    return {
        "n": arm.n,
        "labelled": labelled,
        "accuracy": sum(arm.hs6) / labelled if labelled else None,
        "accuracy_hs4": sum(arm.hs4) / labelled if labelled else None,
        "error_rate": arm.errors / arm.n,
        "latency_p95_ms": ab_stats.p95(arm.latencies),
        "label_coverage": arm.eligible_labelled / arm.eligible if arm.eligible else None,
    }


def _guardrails(plan: Plan, champ: _Arm, chall: _Arm) -> dict[str, dict[str, Any]]:
    g = plan.guardrails
    out: dict[str, dict[str, Any]] = {}

    if not champ.latencies or not chall.latencies:
        out["latency"] = {"ok": True, "detail": "no latency data (capture records without latency are not "
                                                "held against the latency guardrail)"}
    else:
        p_champ, p_chall = ab_stats.p95(champ.latencies), ab_stats.p95(chall.latencies)
        ratio = p_chall / p_champ if p_champ > 0 else (1.0 if p_chall == 0 else math.inf)
        # Fail only when even the challenger's lowest plausible p95 over the champion's highest breaks the limit:
        # p95 of a few hundred rows moves by 10-20 %, and a point estimate would fail many an A/A test.
        low_chall, _ = ab_stats.quantile_interval(chall.latencies, 0.95, GUARDRAIL_CONFIDENCE)
        _, high_champ = ab_stats.quantile_interval(champ.latencies, 0.95, GUARDRAIL_CONFIDENCE)
        # Too few rows to bound either p95 (an infinite end): nothing shown, nothing held against the challenger.
        judged = math.isfinite(low_chall) and math.isfinite(high_champ) and high_champ > 0
        bound = low_chall / high_champ if judged else 0.0
        out["latency"] = {"ok": bound <= g.latency_p95_ratio,
                          "detail": f"p95 {p_chall:.2f} ms vs champion {p_champ:.2f} ms: ratio {ratio:.3f} "
                                    f"(lower bound {max(bound, 0.0):.3f}), limit {g.latency_p95_ratio} "
                                    f"({len(chall.latencies)} and {len(champ.latencies)} timed rows)"}

    e_chall, e_champ = chall.errors / chall.n, champ.errors / champ.n
    if chall.errors == 0:
        out["error_rate"] = {"ok": True, "detail": f"no challenger errors (champion {e_champ:.4f})"}
    else:
        _, low, _ = ab_stats.newcombe_interval(chall.errors, chall.n, champ.errors, champ.n, GUARDRAIL_CONFIDENCE)
        out["error_rate"] = {"ok": low <= g.max_error_rate_increase,
                             "detail": f"challenger {e_chall:.4f} vs champion {e_champ:.4f}; allowed increase "
                                       f"{g.max_error_rate_increase}; lower {GUARDRAIL_CONFIDENCE:.0%} bound of "
                                       f"the increase {low:.4f}"}

    parts, ok = [], True
    for name, arm in ((plan.champion, champ), (plan.challenger, chall)):
        if arm.eligible == 0:
            parts.append(f"{name}: no prediction older than the {plan.label_window_hours:g} h label window yet")
            continue
        cov = arm.eligible_labelled / arm.eligible
        _, high = ab_stats.wilson_interval(arm.eligible_labelled, arm.eligible, GUARDRAIL_CONFIDENCE)
        if high < g.min_label_coverage:
            ok = False
        parts.append(f"{name}: {arm.eligible_labelled}/{arm.eligible} = {cov:.3f} labelled within the window "
                     f"(upper bound {high:.3f})")
    out["label_coverage"] = {"ok": ok, "detail": f"floor {g.min_label_coverage}; " + "; ".join(parts)}
    return out


def _taken_looks(history: list[dict] | None) -> list[tuple[int, float]] | None:
    """(look number, information fraction) of the planned looks already analysed; None when history is unknown."""
    if history is None:
        return None
    taken = []
    for h in history:
        if h.get("planned_look") and h.get("look"):
            taken.append((int(h["look"]), float(h["information_fraction"])))
    return sorted(taken)


def _terminal(history: list[dict] | None) -> dict | None:
    for h in history or []:
        if h.get("planned_look") and h.get("decision") in ("promote", "keep"):
            return h
    return None


def analyze(plan: Plan, observations: Iterable[Observation], *, now: datetime, look: int | None = None,
            history: list[dict] | None = None) -> dict[str, Any]:
    """The analysis JSON of one look (see the module docstring for the rule).

    `history` is the list of earlier analyses of this experiment (their JSON, as returned here); None means
    unknown, and then earlier looks are assumed taken at their planned fractions. `look` forces which planned
    look this is (it must have been reached); by default the latest reached.
    """
    arms = _collect(plan, observations, now)
    champ, chall = arms[plan.champion], arms[plan.challenger]
    variants = {name: _variant_summary(arm) for name, arm in arms.items()}
    y_champ = np.asarray(champ.hs6 if plan.metric == "hs6" else champ.hs4, dtype=float)
    y_chall = np.asarray(chall.hs6 if plan.metric == "hs6" else chall.hs4, dtype=float)
    n1, n2 = y_champ.size, y_chall.size
    x1, x2 = int(y_champ.sum()), int(y_chall.sum())

    # Statistics (when both arms have labels).
    z = f = p_anova = None
    difference = None
    if n1 and n2:
        z = ab_stats.two_proportion_z(x1, n1, x2, n2)
        f, p_anova = ab_stats.one_way_anova([y_champ, y_chall])

    # Which look is this?
    t = min(n1, n2) / plan.max_n_per_arm
    planned = plan.fractions
    reached = sum(1 for q in planned if t + _EPS >= q)
    taken = _taken_looks(history)
    last_taken = max((k for k, _ in taken), default=0) if taken is not None else 0
    if look is not None:
        if isinstance(look, bool) or not isinstance(look, int) or not 1 <= look <= plan.looks:
            raise UsageError(f"look {look!r}: the plan has looks 1..{plan.looks}")
        k = look
    else:
        k = reached
    is_planned = False
    boundary = None
    fractions_used: list[float] = []
    if k == 0 or k > reached:
        need = math.ceil(planned[max(k, 1) - 1] * plan.max_n_per_arm - _EPS)
        why = (f"not enough labelled rows for look {max(k, 1)}: {min(n1, n2)} per arm, the look needs {need}")
    elif taken is not None and k <= last_taken:
        nxt = last_taken + 1
        why = ("not a planned look: look {} was already analysed; ".format(last_taken)
               + (f"the next look comes at {math.ceil(planned[nxt - 1] * plan.max_n_per_arm - _EPS)} labelled "
                  f"rows per arm" if nxt <= plan.looks else "all planned looks are done"))
    else:
        t_now = 1.0 if k == plan.looks else min(t, 1.0)
        if taken is None:
            prior = [q for q in planned[:k - 1]]
        else:
            prior = [q for _, q in taken]
        if prior and t_now <= prior[-1] + _EPS:
            why = "not a planned look: no new labelled rows since the last look"
        else:
            is_planned = True
            fractions_used = prior + [t_now]
            if len(fractions_used) == k and all(abs(a - b) < 1e-6 for a, b in zip(fractions_used, planned)):
                boundary = float(plan.boundaries[k - 1])     # the pre-registered number
            else:
                boundary = ab_stats.group_sequential_boundaries(fractions_used, plan.alpha)[-1]
            why = ""

    # Difference with its interval: at a planned look, the repeated confidence interval that goes with the
    # boundary (confidence 2 Phi(c) - 1, Jennison & Turnbull ch. 9); elsewhere the plain 1 - alpha one.
    if n1 and n2:
        confidence = (2 * stats.norm.cdf(boundary) - 1) if boundary is not None else 1 - plan.alpha
        est, low, high = ab_stats.newcombe_interval(x2, n2, x1, n1, confidence)
        difference = {"estimate": est, "ci_low": low, "ci_high": high, "confidence": confidence,
                      "of": f"{plan.challenger} - {plan.champion}, {plan.metric} accuracy"}

    srm_p = ab_stats.srm_p_value({plan.champion: champ.n, plan.challenger: chall.n}, plan.weights)
    guardrails = _guardrails(plan, champ, chall)
    failed = [name for name, g in guardrails.items() if not g["ok"]]

    done = _terminal(history)
    if done is not None:
        decision = done["decision"]
        reason = f"already decided at look {done['look']}: {done['reason']}"
        is_planned = False
    elif srm_p < SRM_THRESHOLD:
        decision = "invalid"
        reason = (f"sample-ratio mismatch: {champ.n} vs {chall.n} rows against weights "
                  f"{plan.weights[plan.champion]:g}/{plan.weights[plan.challenger]:g} (chi-square p = {srm_p:.2g} "
                  f"< {SRM_THRESHOLD}); the assignment is broken, no conclusion can be drawn")
    elif failed:
        decision = "invalid"
        reason = "guardrail(s) failed: " + "; ".join(f"{n} ({guardrails[n]['detail']})" for n in failed)
    elif not is_planned:
        decision, reason = "continue", why
    elif z >= boundary:
        decision = "promote"
        reason = f"look {k}/{plan.looks}: z = {z:.3f} >= boundary {boundary:.3f}: the challenger is better"
    elif z <= -boundary:
        decision = "keep"
        reason = f"look {k}/{plan.looks}: z = {z:.3f} <= -{boundary:.3f}: the challenger is worse"
    elif k == plan.looks:
        decision = "keep"
        reason = (f"last look {k}/{plan.looks}: z = {z:.3f} < boundary {boundary:.3f}: "
                  "no significant improvement")
    else:
        decision = "continue"
        reason = f"look {k}/{plan.looks}: |z| = {abs(z):.3f} < boundary {boundary:.3f}: no boundary crossed yet"

    n_total = n1 + n2
    return {
        "decision": decision,
        "reason": reason,
        "metric": plan.metric,
        "variants": variants,
        "anova": {"f": _finite(f), "p_value": _finite(p_anova)},
        "z": _finite(z),
        "z_squared": _finite(z * z) if z is not None else None,
        "f_vs_z": ("for two arms of 0/1 outcomes F = (N-2) z^2 / (N - z^2) with N labelled rows, so F = z^2 "
                   "up to a factor 1 + O(1/N)" + (f": here N = {n_total}, F = {f:.4f}, z^2 = {z * z:.4f}"
                                                  if f is not None and math.isfinite(f) else "")),
        "difference": difference,
        "srm_p_value": srm_p,
        "guardrails": guardrails,
        "look": k,
        "planned_look": is_planned,
        "looks_planned": plan.looks,
        "information_fraction": t,
        "boundary": boundary,
        "fractions_used": fractions_used,
        "inputs": {
            "rows": {name: arm.n for name, arm in arms.items()},
            "labelled": {plan.champion: n1, plan.challenger: n2},
            "correct": {plan.champion: x1, plan.challenger: x2},
            "plan_hash": plan_hash(plan),
            "now": now.isoformat(),
            "max_n_per_arm": plan.max_n_per_arm,
            "planned_fractions": planned,
        },
    }
