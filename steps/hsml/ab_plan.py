"""The A/B experiment plan: everything the decision depends on, fixed before traffic flows.

A plan is JSON. Only champion, challenger, weights, alpha, power, mde, looks and max_n_per_arm are required;
the rest has defaults, and the boundaries are computed from alpha and the information fractions when absent.
`make_plan` sizes an experiment from the champion's accuracy; `plan_from_dict` checks a plan read from disk and
says which field is wrong.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from scipy import stats

from steps.hsml import ab_stats
from steps.hsml.cli_errors import UsageError

METRICS = ("hs6", "hs4")
REQUIRED = ("champion", "challenger", "weights", "alpha", "power", "mde", "looks", "max_n_per_arm")


@dataclass
class Guardrails:
    """Limits that make an experiment invalid, whatever the accuracy says."""

    latency_p95_ratio: float = 1.2          # challenger p95 latency at most this times the champion's
    max_error_rate_increase: float = 0.0    # challenger error rate at most the champion's plus this
    min_label_coverage: float = 0.2         # share of predictions past the label window that got a label


@dataclass
class Plan:
    champion: str
    challenger: str
    weights: dict[str, float]
    alpha: float = 0.05
    power: float = 0.8
    mde: float = 0.03
    looks: int = 3
    max_n_per_arm: int = 0                  # labelled rows per arm at the last look
    metric: str = "hs6"
    baseline_accuracy: float | None = None
    guardrails: Guardrails = field(default_factory=Guardrails)
    label_window_hours: float = 72.0
    boundaries: list[float] | None = None
    information_fractions: list[float] | None = None
    models: dict[str, str] | None = None
    created: str | None = None
    experiment_id: str | None = None

    @property
    def fractions(self) -> list[float]:
        """The planned information fractions (equally spaced unless the plan says otherwise)."""
        if self.information_fractions:
            return list(self.information_fractions)
        return [(k + 1) / self.looks for k in range(self.looks)]


def sample_size_per_arm(baseline: float, mde: float, alpha: float, power: float, looks: int = 1,
                        ratio: float = 1.0, smaller_is_challenger: bool = True) -> int:
    """Labelled rows per arm to detect baseline -> baseline + mde, two-sided, inflated for `looks` looks.

    The fixed-sample size is the usual two-proportion one (Fleiss, *Statistical Methods for Rates and
    Proportions*, eq. 4.14, without continuity correction):
        n = (z_{1-alpha/2} sqrt(2 p q) + z_power sqrt(p1 q1 + p2 q2))^2 / mde^2, p the mean of p1 and p2;
    the group-sequential design needs `ab_stats.inflation_factor(looks, alpha, power)` times that at its last look.
    With unequal traffic, `ratio` = the champion's rows per challenger row (0.8/0.2 -> 4), and the size is the
    challenger's; the champion then has `ratio` times as many (Fleiss eq. 4.19): the bigger arm carries part of
    the information, so the smaller one needs fewer rows than at 50/50.
    """
    _check_unit("baseline", baseline)
    _check_unit("mde", mde)
    _check_unit("alpha", alpha)
    _check_unit("power", power)
    if not isinstance(looks, int) or looks < 1:
        raise UsageError(f"looks {looks!r}: must be a whole number of at least 1")
    if not ratio >= 1.0:
        raise UsageError(f"allocation ratio {ratio!r}: must be at least 1 (bigger arm over smaller)")
    p1, p2 = baseline, baseline + mde
    if p2 >= 1.0:
        raise UsageError(f"baseline {baseline} + mde {mde} reaches 100 % accuracy: choose a smaller mde")
    r = float(ratio)
    small, big = (p2, p1) if smaller_is_challenger else (p1, p2)
    p = (small + r * big) / (1.0 + r)
    z_a = stats.norm.isf(alpha / 2.0)
    z_b = stats.norm.isf(1.0 - power)
    n = (z_a * math.sqrt(p * (1 - p) * (1 + 1 / r))
         + z_b * math.sqrt(small * (1 - small) + big * (1 - big) / r)) ** 2 / mde ** 2
    return int(math.ceil(n * ab_stats.inflation_factor(looks, alpha, power)))


def make_plan(champion: str, challenger: str, weights: Mapping[str, float], baseline: float,
              alpha: float = 0.05, power: float = 0.8, mde: float = 0.03, looks: int = 3, metric: str = "hs6",
              *, guardrails: Guardrails | None = None, label_window_hours: float = 72.0,
              information_fractions: list[float] | None = None, models: dict[str, str] | None = None,
              created: str | None = None, experiment_id: str | None = None) -> Plan:
    """A complete plan: sample size from the champion's accuracy, boundaries from alpha and the looks.

    max_n_per_arm is the smaller arm's labelled rows at the last look (the analysis measures information by the
    smaller arm); with unequal weights it is sized for their ratio.
    """
    if champion not in weights or challenger not in weights or min(weights[champion], weights[challenger]) <= 0:
        raise UsageError(f"weights {dict(weights)}: need a positive share for {champion!r} and {challenger!r}")
    w_champ, w_chall = float(weights[champion]), float(weights[challenger])
    ratio = max(w_champ, w_chall) / min(w_champ, w_chall)
    plan = Plan(champion=champion, challenger=challenger, weights={k: float(v) for k, v in weights.items()},
                alpha=alpha, power=power, mde=mde, looks=looks,
                max_n_per_arm=sample_size_per_arm(baseline, mde, alpha, power, looks, ratio=ratio,
                                                  smaller_is_challenger=w_chall <= w_champ), metric=metric,
                baseline_accuracy=baseline, guardrails=guardrails or Guardrails(),
                label_window_hours=label_window_hours, information_fractions=information_fractions,
                models=models, created=created, experiment_id=experiment_id)
    return plan_from_dict(plan_to_dict(plan))   # one validation path for made and loaded plans


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return asdict(plan)


def plan_hash(plan: Plan) -> str:
    """sha256 of the plan's canonical JSON: recorded with every look, so a changed plan shows."""
    text = json.dumps(plan_to_dict(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
        raise UsageError(f"plan field '{name}': {value!r} must be a number between 0 and 1 (exclusive)")
    return float(value)


def _number(name: str, value: Any, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        raise UsageError(f"plan field '{name}': {value!r} must be a number of at least {low}")
    return float(value)


def _whole(name: str, value: Any, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        if isinstance(value, float) and value.is_integer() and value >= low:
            return int(value)
        raise UsageError(f"plan field '{name}': {value!r} must be a whole number of at least {low}")
    return value


def _name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"plan field '{name}': {value!r} must be a variant name")
    return value


def plan_from_dict(d: Mapping[str, Any]) -> Plan:
    """A Plan from its JSON dict, every field checked; raises UsageError naming the first bad field."""
    if not isinstance(d, Mapping):
        raise UsageError(f"plan: expected a JSON object, got {type(d).__name__}")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise UsageError(f"plan: missing field(s) {', '.join(missing)} (required: {', '.join(REQUIRED)})")
    known = set(Plan.__dataclass_fields__)
    unknown = sorted(set(d) - known)
    if unknown:
        raise UsageError(f"plan: unknown field(s) {', '.join(unknown)}")

    champion = _name("champion", d["champion"])
    challenger = _name("challenger", d["challenger"])
    if champion == challenger:
        raise UsageError(f"plan fields 'champion' and 'challenger' are both {champion!r}: need two variants")
    weights = d["weights"]
    if not isinstance(weights, Mapping) or not weights:
        raise UsageError(f"plan field 'weights': {weights!r} must map variant names to traffic shares")
    weights = {str(k): _number(f"weights.{k}", v) for k, v in weights.items()}
    for arm in (champion, challenger):
        if weights.get(arm, 0.0) <= 0.0:
            raise UsageError(f"plan field 'weights': variant {arm!r} needs a positive share (got {weights})")

    looks = _whole("looks", d["looks"])
    metric = d.get("metric", "hs6")
    if metric not in METRICS:
        raise UsageError(f"plan field 'metric': {metric!r} must be one of {', '.join(METRICS)}")
    baseline = d.get("baseline_accuracy")
    if baseline is not None:
        baseline = _check_unit("baseline_accuracy", baseline)

    g = d.get("guardrails") or {}
    if not isinstance(g, Mapping):
        raise UsageError(f"plan field 'guardrails': {g!r} must be an object")
    unknown_g = sorted(set(g) - set(Guardrails.__dataclass_fields__))
    if unknown_g:
        raise UsageError(f"plan field 'guardrails': unknown guardrail(s) {', '.join(unknown_g)}")
    defaults = Guardrails()
    guardrails = Guardrails(
        latency_p95_ratio=_number("guardrails.latency_p95_ratio",
                                  g.get("latency_p95_ratio", defaults.latency_p95_ratio), low=1e-9),
        max_error_rate_increase=_number("guardrails.max_error_rate_increase",
                                        g.get("max_error_rate_increase", defaults.max_error_rate_increase)),
        min_label_coverage=_number("guardrails.min_label_coverage",
                                   g.get("min_label_coverage", defaults.min_label_coverage)))
    if guardrails.min_label_coverage > 1.0:
        raise UsageError("plan field 'guardrails.min_label_coverage': must be at most 1")

    fractions = d.get("information_fractions")
    if fractions is not None:
        if not isinstance(fractions, list) or len(fractions) != looks:
            raise UsageError(f"plan field 'information_fractions': need a list of {looks} fractions (one per look)")
        fractions = [_number(f"information_fractions[{i}]", f) for i, f in enumerate(fractions)]
        if any(b <= a for a, b in zip(fractions, fractions[1:])) or fractions[0] <= 0 or fractions[-1] != 1.0:
            raise UsageError(f"plan field 'information_fractions': {fractions} must increase and end at 1")
    alpha = _check_unit("alpha", d["alpha"])
    boundaries = d.get("boundaries")
    if boundaries is None:
        boundaries = ab_stats.group_sequential_boundaries(
            fractions or [(k + 1) / looks for k in range(looks)], alpha)
    elif not isinstance(boundaries, list) or len(boundaries) != looks:
        raise UsageError(f"plan field 'boundaries': need a list of {looks} z values (one per look)")
    else:
        boundaries = [_number(f"boundaries[{i}]", b, low=1e-9) for i, b in enumerate(boundaries)]

    models = d.get("models")
    if models is not None and (not isinstance(models, Mapping)
                               or not all(isinstance(v, str) for v in models.values())):
        raise UsageError(f"plan field 'models': {models!r} must map variant names to model versions")
    for key in ("created", "experiment_id"):
        if d.get(key) is not None and not isinstance(d[key], str):
            raise UsageError(f"plan field '{key}': {d[key]!r} must be a string")

    return Plan(champion=champion, challenger=challenger, weights=weights, alpha=alpha,
                power=_check_unit("power", d["power"]), mde=_check_unit("mde", d["mde"]), looks=looks,
                max_n_per_arm=_whole("max_n_per_arm", d["max_n_per_arm"]), metric=metric,
                baseline_accuracy=baseline, guardrails=guardrails,
                label_window_hours=_number("label_window_hours", d.get("label_window_hours", 72.0), low=0.0),
                boundaries=boundaries, information_fractions=fractions,
                models=dict(models) if models is not None else None,
                created=d.get("created"), experiment_id=d.get("experiment_id"))
