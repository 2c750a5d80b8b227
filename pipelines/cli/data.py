"""hscode data prepare (issue: data preparation).

Placeholder: registers nothing until its owner fills it in. Each module exposes
`register(subparsers)`, adding its parsers with `set_defaults(handler=fn)`; `fn(args)` returns an exit code.
"""
from __future__ import annotations


def register(subparsers) -> None:
    pass
