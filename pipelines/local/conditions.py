"""ConditionStep conditions, evaluated as SageMaker does (every condition in the list must hold)."""
from __future__ import annotations

from typing import Any, Callable

from pipelines.local.errors import DefinitionError, required

_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


class ConditionError(DefinitionError):
    """A condition the runner cannot evaluate (unsupported type, values that do not compare)."""


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers compare as numbers even when one side arrived as text (a JsonGet of "0.8")."""
    if isinstance(left, (int, float)) or isinstance(right, (int, float)):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            raise ConditionError(f"cannot compare {left!r} with {right!r}: one is a number, "
                                 "the other is not") from None
    return left, right


def evaluate_condition(condition: dict, resolve: Callable[[Any], Any]) -> tuple[bool, str]:
    """(outcome, a readable account such as '0.8123 >= 0.3') of one condition."""
    kind = required(condition, "Type", "a condition")
    where = f"condition {kind}"
    if kind in _COMPARISONS:
        left, right = _comparable(resolve(required(condition, "LeftValue", where)),
                                  resolve(required(condition, "RightValue", where)))
        symbol = {"Equals": "==", "GreaterThan": ">", "GreaterThanOrEqualTo": ">=", "LessThan": "<",
                  "LessThanOrEqualTo": "<="}[kind]
        try:
            outcome = _COMPARISONS[kind](left, right)
        except TypeError:
            raise ConditionError(f"cannot compare {left!r} with {right!r} ({kind})") from None
        return outcome, f"{left} {symbol} {right}"
    if kind == "In":
        value = resolve(required(condition, "QueryValue", where))
        values = [resolve(v) for v in required(condition, "Values", where)]
        return value in values, f"{value!r} in {values!r}"
    if kind == "Not":
        outcome, account = evaluate_condition(required(condition, "Condition", where), resolve)
        return not outcome, f"not ({account})"
    if kind == "Or":
        results = [evaluate_condition(c, resolve) for c in required(condition, "Conditions", where)]
        return any(r for r, _ in results), " or ".join(f"({a})" for _, a in results)
    raise ConditionError(f"condition type {kind!r} is not supported by the local runner")


def evaluate_all(conditions: list[dict], resolve: Callable[[Any], Any]) -> tuple[bool, str]:
    results = [evaluate_condition(c, resolve) for c in conditions]
    return all(r for r, _ in results), " and ".join(a for _, a in results)
