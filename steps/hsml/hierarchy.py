"""The answer a broker can trust: the deepest level the model is sure of, and an answer set that adapts.

An HS6 code nests: 610910 (subheading) is in heading 6109 (HS4), in chapter 61 (HS2). The model's HS4 and HS2
probabilities are sums of its HS6 ones (the exported graph computes them, steps/hsml/export.py), so a model
torn between 610910 and 610990 can still be sure of 6109. Each level has its own threshold, the lowest top-1
probability at which that level's answers reached 95 % precision on the test rows (steps/hsml/metrics.py:
accept_threshold, accept_threshold_hs4, accept_threshold_hs2).

    answer: the deepest level whose top probability reaches its threshold: HS6, else the HS4 heading, else the
            HS2 chapter, else "none"; a description the vague detector flags is "none", "too vague to classify".
    answer set: HS6 codes, best first, until their cumulative probability reaches `set_level` (default 0.9),
            capped by the codes at hand (the top-k the model returned): one code when the model is sure,
            several when it is not.

stdlib only: serving's front end (pipelines/serving/frontend.py) runs it, and so do the predictor and the CLI.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

LEVELS = ("hs6", "hs4", "hs2")  # deepest first
LEVEL_NAMES = {"hs6": "subheading", "hs4": "heading", "hs2": "chapter"}
# The registry metric (evaluation.json key) holding each level's threshold.
THRESHOLD_METRICS = {"hs6": "accept_threshold", "hs4": "accept_threshold_hs4", "hs2": "accept_threshold_hs2"}
DEFAULT_SET_LEVEL = 0.9
NONE = "none"
VAGUE_REASON = "too vague to classify"

Ranked = Sequence[tuple[str, float]]  # (code, probability) pairs, best first


def thresholds_from_metrics(metrics: Mapping[str, object]) -> dict[str, float | None]:
    """{"hs6": t6, "hs4": t4, "hs2": t2} from registry metrics / evaluation values; None for a missing one."""
    found: dict[str, float | None] = {}
    for level, name in THRESHOLD_METRICS.items():
        value = metrics.get(name)
        if isinstance(value, Mapping):  # an evaluation.json entry {"value": ..., "standard_deviation": ...}
            value = value.get("value")
        try:
            found[level] = None if value is None else float(value)
        except (TypeError, ValueError):
            found[level] = None
    return found


def answer_set(hs6: Ranked, set_level: float = DEFAULT_SET_LEVEL) -> tuple[list[str], float]:
    """The HS6 codes until their cumulative probability reaches set_level (all of them when it never does),
    and that cumulative probability."""
    if not 0 < set_level <= 1:
        raise ValueError(f"the answer set's level must be in (0, 1], got {set_level}")
    codes, total = [], 0.0
    for code, probability in hs6:
        codes.append(code)
        total += probability
        if total >= set_level - 1e-9:
            break
    return codes, total


def answer(levels: Mapping[str, Ranked], thresholds: Mapping[str, float | None], *, vague: bool = False,
           set_level: float = DEFAULT_SET_LEVEL) -> dict:
    """One row's answer fields: {"answer": {"level", "code", "probability", "reason"}, "answer_set": [codes],
    "answer_set_probability": their cumulative probability}.

    `levels`: {"hs6": [(code, p), ...], "hs4": [...], "hs2": [...]}, each best first (a missing level is skipped);
    `thresholds`: {"hs6": t, ...}, None (unknown) or above 1 (never reached on the test rows) skips a level.
    """
    codes, covered = answer_set(levels.get("hs6") or [], set_level)
    if vague:
        return _fields(NONE, None, None, VAGUE_REASON, [], 0.0)
    missed = []
    for level in LEVELS:
        ranked = levels.get(level) or []
        threshold = thresholds.get(level)
        if not ranked:
            continue
        code, probability = ranked[0]
        if threshold is None:
            missed.append(f"{level.upper()} has no threshold")
        elif threshold > 1:
            missed.append(f"{level.upper()} never reached 95 % precision")
        elif probability >= threshold:
            sure = f"{LEVEL_NAMES[level]} {code} at {probability:.2f} >= {threshold:.2f}"
            return _fields(level, code, probability, "; ".join([*missed, sure]), codes, covered)
        else:
            missed.append(f"{level.upper()} {code} at {probability:.2f} < {threshold:.2f}")
    reason = "no level is sure: " + "; ".join(missed) if missed else "no prediction"
    return _fields(NONE, None, None, reason, codes, covered)


def _fields(level: str, code: str | None, probability: float | None, reason: str, codes: list[str],
            covered: float) -> dict:
    return {"answer": {"level": level, "code": code, "probability": probability, "reason": reason},
            "answer_set": codes, "answer_set_probability": round(covered, 6)}
