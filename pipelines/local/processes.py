"""Running a job's command as a local process: output streamed to a log file (and the console).

Jobs start in their own session so a Ctrl-C reaches the runner alone; the runner then stops every
live job itself (terminate_all), marks the step Stopped and leaves the store untouched.
"""
from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


class Interrupted(BaseException):
    """The runner was asked to stop (SIGINT or SIGTERM)."""


@dataclass
class ProcessResult:
    returncode: int
    stderr_tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _pump(stream, log, lock: threading.Lock, label: str, on_line: Callable[[str, str], None] | None,
          tail: collections.deque | None) -> None:
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            log.write(line + "\n")
            log.flush()
        if tail is not None:
            tail.append(line)
        if on_line:
            on_line(line, label)
    stream.close()


def run_process(command: list[str], cwd: Path, env: dict[str, str], log_path: Path,
                on_line: Callable[[str, str], None] | None = None) -> ProcessResult:
    """Run to completion; stdout and stderr both go to log_path, the last stderr lines come back."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=30)
    lock = threading.Lock()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        with _live_lock:
            _live.add(process)
        try:
            pumps = [threading.Thread(target=_pump, args=(process.stdout, log, lock, "stdout", on_line, None)),
                     threading.Thread(target=_pump, args=(process.stderr, log, lock, "stderr", on_line, tail))]
            for pump in pumps:
                pump.daemon = True
                pump.start()
            returncode = process.wait()
            for pump in pumps:
                pump.join()
        except BaseException:
            _stop(process)  # interrupted while waiting: the job must not outlive the runner
            raise
        finally:
            with _live_lock:
                _live.discard(process)
    return ProcessResult(returncode, "\n".join(tail))


def _stop(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the job's whole process group, then SIGKILL after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def terminate_all(grace_s: float = 5.0) -> None:
    """Stop every live job (parallel tuning trials run in worker threads)."""
    with _live_lock:
        processes = list(_live)
    for process in processes:
        _stop(process, grace_s)


def error_summary(stderr_tail: str, returncode: int, max_lines: int = 8) -> str:
    """The job's own last words: the tail of its stderr (the exception, usually), minus TF chatter."""
    lines = [line for line in stderr_tail.splitlines() if line.strip()]
    lines = [line for line in lines if not _is_noise(line)] or lines
    text = "\n".join(lines[-max_lines:])
    return text or f"the job exited with status {returncode} and wrote nothing to stderr"


_TF_NATIVE_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EWI] ")


def _is_noise(line: str) -> bool:
    """TensorFlow's native start-up logging and Python warnings: kept in the log file, not echoed."""
    if _TF_NATIVE_LOG.match(line) or "UserWarning" in line or line.strip() == "warnings.warn(":
        return True
    noisy = ("oneDNN", "cpu_feature_guard", "TF_ENABLE_ONEDNN_OPTS", "rebuild TensorFlow", "absl::",
             "WARNING: All log messages before absl", "computation placer", "cuda", "E0000", "W0000", "I0000")
    return any(marker in line for marker in noisy)
