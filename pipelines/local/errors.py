"""The three ways a local run can go wrong, kept apart so a bug in the runner never looks like a failed step.

- `DefinitionError`: the definition asks for something malformed or unsupported (a step's arguments
  lack a field, an unknown step type, a bad expression, a JsonGet on a missing path). The step fails.
- `JobFailed`: a job ran and failed (the script's own error). The step fails.
- Anything else raised while a step runs is a bug in the local runner itself: the execution is
  recorded as Failed with `internal_error_message()` and the traceback goes to its log.
"""
from __future__ import annotations

from typing import Any

from steps.hsml.cli_errors import JobFailed


class DefinitionError(Exception):
    """The definition (or a value it resolves to) is malformed or asks for what the runner does not do."""


class LocalRunnerBug(JobFailed):
    """An unexpected exception inside the runner; the message says so and where the traceback is."""


def internal_error_message(error: BaseException) -> str:
    return f"internal error in the local runner (a bug, please report it): {type(error).__name__}: {error}"


def required(node: Any, key: str, where: str) -> Any:
    """node[key] for a field the definition must have, or a DefinitionError naming what is missing."""
    if not isinstance(node, dict):
        raise DefinitionError(f"{where}: expected an object with {key!r}, found {type(node).__name__} {node!r:.80}")
    if key not in node:
        present = ", ".join(sorted(node)) or "nothing"
        raise DefinitionError(f"{where} lacks {key!r} (it has: {present})")
    return node[key]


def required_path(node: Any, path: str, where: str) -> Any:
    """required() along a dotted path: required_path(arguments, "OutputDataConfig.S3OutputPath", "step X")."""
    for key in path.split("."):
        node = required(node, key, where)
        where = f"{where}.{key}"
    return node


def as_number(value: Any, kind: type, where: str) -> Any:
    """int(value) or float(value) for a numeric field of the definition; a DefinitionError if it is not one."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"{where} is {value!r}, not {'a whole number' if kind is int else 'a number'}") from None


__all__ = ["DefinitionError", "JobFailed", "LocalRunnerBug", "as_number", "internal_error_message", "required",
           "required_path"]
