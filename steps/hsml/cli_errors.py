"""One error style for every command line, `hscode ...` and the job scripts in steps/ alike.

- Bad usage or bad input (a missing file, a malformed value): raise `UsageError`; exit status 2.
- The job ran and failed (training diverged, a gate was missed, AWS refused): raise `JobFailed`; exit status 1.
- Either way the message goes to stderr as `<program>: error: <message>`, and says what to do next.

Lives in steps/hsml because the job scripts run in containers that hold only steps/; the `hscode` CLI
(pipelines/cli) uses the same module.
"""
from __future__ import annotations

import sys
from typing import Callable

USAGE_EXIT = 2
FAILED_EXIT = 1


class UsageError(Exception):
    """Bad usage or bad input: the caller can fix it (exit status 2)."""


class JobFailed(Exception):
    """The work itself failed (exit status 1)."""


def report(program: str, message: str, exit_status: int) -> int:
    """Print the one-line error to stderr; returns the exit status to hand back."""
    print(f"{program}: error: {message}", file=sys.stderr, flush=True)
    return exit_status


def run_command(program: str, body: Callable[[], int | None]) -> int:
    """Run a command's body, turning UsageError / JobFailed into the documented message and exit status.

    Anything else is a bug in our code: it propagates with its traceback, which is what a bug report needs.
    """
    try:
        return int(body() or 0)
    except UsageError as error:
        return report(program, str(error), USAGE_EXIT)
    except JobFailed as error:
        return report(program, str(error), FAILED_EXIT)
