"""What the user sees while a pipeline runs: step start/finish lines with elapsed time, trial k/N, job output."""
from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from pipelines.local.processes import _is_noise
from steps.hsml.durations import format_duration


def format_hyperparameters(values: dict) -> str:
    parts = []
    for name, value in sorted(values.items()):
        try:
            number = float(value)
            text = value if str(value).lstrip("-").isdigit() else f"{number:.4g}"
        except (TypeError, ValueError):
            text = value
        parts.append(f"{name}={text}")
    return " ".join(parts)


class Console:
    """Thread-safe progress lines (tuning trials run in parallel threads)."""

    def __init__(self, stream: TextIO | None = None, show_job_output: bool = True):
        self.stream = stream or sys.stdout
        self.show_job_output = show_job_output
        self.lock = threading.Lock()
        self.started = time.monotonic()

    def say(self, text: str = "") -> None:
        with self.lock:
            print(text, file=self.stream, flush=True)

    def clock(self) -> str:
        return f"[{format_duration(time.monotonic() - self.started):>7}]"

    def step_started(self, name: str, kind: str, detail: str = "") -> None:
        self.say(f"{self.clock()} ==> {name} ({kind}){' ' + detail if detail else ''}")

    def step_finished(self, name: str, status: str, elapsed: float | None, detail: str = "") -> None:
        mark = {"Succeeded": "ok", "Failed": "FAILED", "Skipped": "skipped", "Stopped": "STOPPED"}.get(status, status)
        self.say(f"{self.clock()} <== {name} {mark} in {format_duration(elapsed)}{': ' + detail if detail else ''}")

    def job_line(self, prefix: str):
        """A callback for run_process: echo the job's output lines, indented under the step."""
        def echo(line: str, _stream: str) -> None:
            if self.show_job_output and line.strip() and not _is_noise(line):
                self.say(f"    {prefix}{line}")
        return echo
