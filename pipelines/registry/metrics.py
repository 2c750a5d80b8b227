"""Metrics as the registry keeps them: a flat {name: number} map.

register() accepts either that flat map or an evaluation.json in SageMaker model-quality format
({"multiclass_classification_metrics": {"accuracy": {"value": 0.81, ...}, ...}}), whose {"value": x}
entries become {"accuracy": 0.81}; confusion matrices and other nested tables are left out.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any, Mapping

from pipelines.registry.model import RegistryError


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def flatten_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    flat: dict[str, float] = {}

    def walk(node: Mapping[str, Any], top_level: bool) -> None:
        for name, value in node.items():
            if _is_number(value) and top_level:  # deeper bare numbers are tables (a confusion matrix)
                flat[str(name)] = float(value)
            elif isinstance(value, Mapping) and _is_number(value.get("value")):
                flat[str(name)] = float(value["value"])
            elif isinstance(value, Mapping):
                walk(value, top_level=False)

    if metrics:
        if not isinstance(metrics, Mapping):
            raise RegistryError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}")
        walk(metrics, top_level=True)
    for name, value in flat.items():
        if not math.isfinite(value):
            raise RegistryError(f"metric {name!r} is {value}: only finite numbers can be registered")
    return flat


def metric_text(name: str, value: float, spec: str = ".4g") -> str:
    """`name=value` as people read it. An accept threshold above 1 is the evaluation's "no threshold reached 95 %
    precision" (steps/hsml/metrics.py NEVER_ACCEPT): no probability reaches it, so it reads `never`."""
    if name.startswith("accept_threshold") and value > 1:
        return f"{name}=never"
    return f"{name}={value:{spec}}"
