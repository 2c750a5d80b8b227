"""What an execution leaves behind: <home>/executions/<id>/execution.json (+ definition.json, logs/).

The record is rewritten atomically after every status change, so `hscode pipeline describe` and a
later `retry` always read a complete file, even if the runner was killed.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Step statuses, as SageMaker names them.
EXECUTING, SUCCEEDED, FAILED, SKIPPED, STOPPED, NOT_STARTED = (
    "Executing", "Succeeded", "Failed", "Skipped", "Stopped", "NotStarted")
RETRYABLE = (FAILED, STOPPED, NOT_STARTED, EXECUTING)


class ExecutionNotFound(Exception):
    pass


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def seconds_between(start: str, end: str) -> float:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def new_execution_id() -> str:
    """Sortable by start time and unique: 20250101T120000-3f9a1c."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass
class StepRecord:
    name: str
    type: str
    status: str = NOT_STARTED
    started: str | None = None
    ended: str | None = None
    elapsed_s: float | None = None
    attempts: int = 0
    failure_reason: str | None = None
    log: str | None = None  # path of the step's log file
    properties: dict[str, Any] = field(default_factory=dict)  # what later steps read via {"Get": "Steps.X..."}
    outputs: dict[str, Any] = field(default_factory=dict)  # a human summary (URIs, the winning trial, outcome)
    cache_hit_from: str | None = None  # execution id whose outputs were reused


@dataclass
class ExecutionRecord:
    execution_id: str
    pipeline_name: str
    status: str
    created: str
    parameters: dict[str, Any]
    profile: str | None = None
    pipeline_module: str | None = None  # the module whose get_pipeline() built the definition, if known
    ended: str | None = None
    failure_reason: str | None = None
    retries: int = 0
    steps: dict[str, StepRecord] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "ExecutionRecord":
        steps = {name: StepRecord(**step) for name, step in data.pop("steps", {}).items()}
        return cls(**data, steps=steps)


class ExecutionStore:
    """Executions on disk under <home>/executions/."""

    def __init__(self, home: Path):
        self.root = Path(home) / "executions"

    def folder(self, execution_id: str) -> Path:
        return self.root / execution_id

    def save(self, record: ExecutionRecord) -> None:
        folder = self.folder(record.execution_id)
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / ".execution.json.tmp"
        staging.write_text(json.dumps(asdict(record), indent=2, default=str))
        os.replace(staging, folder / "execution.json")

    def save_definition(self, execution_id: str, definition: dict) -> None:
        folder = self.folder(execution_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "definition.json").write_text(json.dumps(definition, indent=1))

    def load(self, execution_id: str) -> ExecutionRecord:
        path = self.folder(execution_id) / "execution.json"
        if not path.is_file():
            known = ", ".join(r.execution_id for r in self.list()[-5:]) or "none yet"
            raise ExecutionNotFound(f"no execution {execution_id!r} under {self.root} (recent: {known}); "
                                    "see `hscode pipeline executions`")
        return ExecutionRecord.from_dict(json.loads(path.read_text()))

    def load_definition(self, execution_id: str) -> dict:
        return json.loads((self.folder(execution_id) / "definition.json").read_text())

    def list(self) -> list[ExecutionRecord]:
        """All executions, oldest first."""
        if not self.root.is_dir():
            return []
        records = []
        for path in sorted(self.root.glob("*/execution.json")):
            try:
                records.append(ExecutionRecord.from_dict(json.loads(path.read_text())))
            except (ValueError, TypeError):
                continue  # a foreign or damaged file: not ours to list
        return sorted(records, key=lambda r: r.created)
