"""Mapping a SageMaker container's file system (/opt/ml/...) onto a per-job folder on this machine."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from pipelines.local.errors import JobFailed  # noqa: F401 - re-exported: job modules raise it from here

CONTAINER_ROOT = "/opt/ml"


class ContainerPaths:
    def __init__(self, job_dir: Path):
        self.job_dir = Path(job_dir)

    def local(self, container_path: str) -> Path:
        """/opt/ml/processing/output -> <job>/opt/ml/processing/output."""
        return self.job_dir / container_path.lstrip("/")

    def rewrite(self, text: str) -> str:
        """Every /opt/ml path inside a value (an argument, a PYTHONPATH list) pointed at the job folder."""
        if CONTAINER_ROOT not in text:
            return text
        return text.replace(CONTAINER_ROOT, str(self.job_dir / CONTAINER_ROOT.lstrip("/")))


def command_for(entrypoint: list[str], paths: ContainerPaths) -> list[str]:
    """The container's command with container paths mapped, `python3` meaning this interpreter."""
    command = [paths.rewrite(str(part)) for part in entrypoint]
    if command and Path(command[0]).name in ("python", "python3") or (command and command[0].startswith("python3.")):
        command[0] = sys.executable
    return command


def job_environment(declared: dict[str, str] | None, paths: ContainerPaths, extra: dict[str, str]) -> dict[str, str]:
    """This machine's environment, the job's declared Environment (paths mapped), then SageMaker's variables."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the logs
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in (declared or {}).items():
        env[name] = paths.rewrite(str(value))
    env.update(extra)
    return env
