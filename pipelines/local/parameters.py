"""Pipeline parameters: defaults from the definition, typed overrides from `--param Name=Value`."""
from __future__ import annotations

from typing import Any, Iterable, Mapping


class ParameterError(Exception):
    """A malformed or unknown override; the message says what would be accepted."""


def _convert(name: str, declared: str, text: str) -> Any:
    if declared == "Integer":
        try:
            return int(text)
        except ValueError:
            raise ParameterError(f"parameter {name} is an Integer: {text!r} is not a whole number "
                                 f"(e.g. --param {name}=4)") from None
    if declared == "Float":
        try:
            return float(text)
        except ValueError:
            raise ParameterError(f"parameter {name} is a Float: {text!r} is not a number "
                                 f"(e.g. --param {name}=0.5)") from None
    if declared == "Boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ParameterError(f"parameter {name} is a Boolean: use true or false, not {text!r}")
    return text


def parse_override(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ParameterError(f"malformed parameter override {text!r}: write it as Name=Value, e.g. QualityThreshold=0.5")
    return name.strip(), value


def resolve_parameters(declared: list[dict], overrides: Mapping[str, str] | Iterable[str] = ()) -> dict[str, Any]:
    """Defaults overlaid with overrides, each converted to its declared type."""
    if not isinstance(overrides, Mapping):
        overrides = dict(parse_override(item) for item in overrides)
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; the pipeline's parameters are: "
                             f"{', '.join(by_name)}")
    values: dict[str, Any] = {}
    for name, spec in by_name.items():
        declared_type = spec.get("Type", "String")
        if name in overrides:
            raw = overrides[name]
            value = _convert(name, declared_type, raw) if isinstance(raw, str) else raw
        elif "DefaultValue" in spec:
            value = spec["DefaultValue"]
        else:
            raise ParameterError(f"parameter {name} has no default: pass --param {name}=VALUE")
        if spec.get("EnumValues") and value not in spec["EnumValues"]:
            raise ParameterError(f"parameter {name} must be one of {', '.join(map(str, spec['EnumValues']))}, "
                                 f"not {value!r}")
        values[name] = value
    return values
