"""Pipeline parameters from the command line: one `--param Name=Value` rule for AWS and local runs alike.

`hscode pipeline start` (SageMaker) and `hscode pipeline run --local` both parse with
`parse_assignments` and check against the definition's own Parameters with `check_overrides`,
so a value that one refuses the other refuses too, with the same message.

A name given twice is an error rather than "last wins": a repeated --param is usually a script
appending one over the user's, and silently dropping a value the user typed is worse than asking
them to type it once.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from steps.hsml.cli_errors import UsageError


class ParameterError(UsageError):
    """A malformed, repeated, unknown or mistyped parameter; the message says what would be accepted."""


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """["Name=Value", ...] -> {Name: Value}; the value is everything after the first "="."""
    parsed: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            example = f"{name}=VALUE" if name else "QualityThreshold=0.5"
            raise ParameterError(f"--param {item!r}: write it as Name=Value, e.g. --param {example}")
        if name in parsed:
            raise ParameterError(f"--param {name} is given twice ({parsed[name]!r} and {value!r}): give it once")
        parsed[name] = value
    return parsed


# Numeric types: (parser, the type in words, what a value must be, an example).
_NUMBERS = {"Integer": (int, "an Integer", "a whole number", "4"), "Float": (float, "a Float", "a number", "0.5")}


def convert(name: str, declared_type: str, text: str) -> Any:
    """A parameter's text as its declared type (Integer, Float, Boolean; anything else stays text)."""
    if declared_type in _NUMBERS:
        parse, kind, expected, example = _NUMBERS[declared_type]
        try:
            return parse(text)
        except ValueError:
            raise ParameterError(f"parameter {name} is {kind}: {text!r} is not {expected} "
                                 f"(e.g. --param {name}={example})") from None
    if declared_type == "Boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ParameterError(f"parameter {name} is a Boolean: use true or false, not {text!r}")
    return text


def check_overrides(declared: list[dict], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides checked against the definition's Parameters and converted to their declared types."""
    by_name = {p["Name"]: p for p in declared}
    unknown = sorted(set(overrides) - set(by_name))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; the pipeline's parameters are: "
                             f"{', '.join(by_name) or 'none'}")
    checked = {}
    for name, raw in overrides.items():
        spec = by_name[name]
        value = convert(name, spec.get("Type", "String"), raw) if isinstance(raw, str) else raw
        _check_enum(name, spec, value)
        checked[name] = value
    return checked


def resolve_parameters(declared: list[dict], overrides: Mapping[str, Any] | Iterable[str] = ()) -> dict[str, Any]:
    """Every declared parameter's value for one execution: its default, or the (checked) override."""
    if not isinstance(overrides, Mapping):
        overrides = parse_assignments(overrides)
    checked = check_overrides(declared, overrides)
    values: dict[str, Any] = {}
    for spec in declared:
        name = spec["Name"]
        if name in checked:
            values[name] = checked[name]
        elif "DefaultValue" in spec:
            values[name] = spec["DefaultValue"]
            _check_enum(name, spec, values[name])
        else:
            raise ParameterError(f"parameter {name} has no default: pass --param {name}=VALUE")
    return values


def as_text(value: Any) -> str:
    """How a parameter value is written in StartPipelineExecution's PipelineParameters (always a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_enum(name: str, spec: dict, value: Any) -> None:
    if spec.get("EnumValues") and value not in spec["EnumValues"]:
        raise ParameterError(f"parameter {name} must be one of {', '.join(map(str, spec['EnumValues']))}, "
                             f"not {value!r}")
