"""The end-of-run summary and `hscode pipeline describe`: statuses and times of any pipeline's execution.

What only one pipeline knows (its best model, its metrics, what to do next) comes from that
pipeline module's `summarize(execution, verbose=...)` hook, given an `ExecutionView`, and is
printed between the steps and the failure.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pipelines.local import records as rec
from pipelines.local.dag import StepNode, build_dag
from pipelines.local.errors import DefinitionError
from pipelines.local.property_files import property_file_uri, read_json
from pipelines.local.store import ArtifactStore, StoreError
from steps.hsml.durations import format_duration


@dataclass
class ExecutionView:
    """What a summary may read of one execution: its record, the store, and the definition it ran."""

    record: rec.ExecutionRecord
    store: ArtifactStore
    definition: dict

    @cached_property
    def nodes(self) -> dict[str, StepNode]:
        return build_dag(self.definition)

    def succeeded(self, step_type: str) -> list[rec.StepRecord]:
        """The execution's steps of one definition type (Tuning, RegisterModel...) that succeeded."""
        return [s for s in self.record.steps.values() if s.type == step_type and s.status == rec.SUCCEEDED]

    def property_file(self, file_name: str) -> Any | None:
        """The named PropertyFile of the succeeded step that declares it, read where the definition says; else None."""
        for name, node in self.nodes.items():
            step = self.record.steps.get(name)
            declared = any(f.get("PropertyFileName") == file_name for f in node.spec.get("PropertyFiles", []))
            if declared and step and step.status == rec.SUCCEEDED:
                try:
                    return read_json(self.store, property_file_uri(name, node.spec, step.properties, file_name))
                except (DefinitionError, StoreError):
                    return None  # the outputs were cleaned up since: a summary shows what is still there
        return None


def render(execution: ExecutionView, verbose: bool = False, details: list[str] = ()) -> str:
    """The summary: header, one line per step, the pipeline's own `details`, then the failure and what to do."""
    record = execution.record
    total = _elapsed(record.created, record.ended)
    lines = [f"Execution {record.execution_id}: {record.status}"
             f"{f' in {format_duration(total)}' if total is not None else ''}"
             f"{f'  (profile {record.profile})' if record.profile else ''}"
             f"{f'  retries: {record.retries}' if record.retries else ''}",
             f"  started {record.created}" + (f", ended {record.ended}" if record.ended else "")]
    if verbose:
        lines.append("  parameters: " + " ".join(f"{k}={v}" for k, v in record.parameters.items()))
        if record.pipeline_module:
            lines.append(f"  pipeline module: {record.pipeline_module}")
    width = max(len(name) for name in record.steps) if record.steps else 10
    lines.append("  steps:")
    for step in record.steps.values():
        note = step.outputs.get("summary") or step.outputs.get("reason") or ""
        if step.cache_hit_from and "cache hit" not in note:
            note = f"cache hit from {step.cache_hit_from}; {note}"
        line = f"    {step.name:<{width}}  {step.status:<10} {format_duration(step.elapsed_s):>8}  {note}"
        lines.append(line.rstrip())
        if verbose and step.log and Path(step.log).exists():  # condition and fail steps write none
            lines.append(f"    {'':<{width}}  log{'s' if Path(step.log).is_dir() else ''}: {step.log}")
    lines.extend(details)
    if record.failure_reason:
        lines.append("  failure: " + record.failure_reason.replace("\n", "\n           "))
    lines.extend(_what_next(record))
    return "\n".join(lines)


def _what_next(record: rec.ExecutionRecord) -> list[str]:
    action = next_action(record)
    if action is None:
        return []
    advice, command = action
    return ["", advice[0].upper() + advice[1:] + (":" if command else "."), *([f"  {command}"] if command else [])]


def next_action(record: rec.ExecutionRecord) -> tuple[str, str | None] | None:
    """(what to do about a failed or stopped execution, the command that does it); None when it did not fail."""
    retry = f"hscode pipeline retry {record.execution_id}"
    if record.status == rec.STOPPED:
        return "resume it from the stopped step", retry
    if record.status != rec.FAILED:
        return None
    failed = [s for s in record.steps.values() if s.status == rec.FAILED]
    if failed and all(s.type == "Fail" for s in failed):
        return ("the pipeline's Fail step ended the run, and a retry would end the same way: change the data or "
                "the parameters and start a new run"), None
    return "fix the cause, then resume from the failed step", retry


def _elapsed(start: str | None, end: str | None) -> float | None:
    return rec.seconds_between(start, end) if start and end else None


def render_list(records: list[rec.ExecutionRecord]) -> str:
    if not records:
        return "No local executions yet: run `hscode pipeline run --local`."
    lines = [f"{'EXECUTION':<24} {'STATUS':<10} {'STARTED':<26} {'TIME':>8}  {'PROFILE':<7} STEPS"]
    for record in reversed(records):
        steps = " ".join(f"{s.name}:{s.status}" for s in record.steps.values() if s.status != rec.NOT_STARTED)
        lines.append(f"{record.execution_id:<24} {record.status:<10} {record.created:<26} "
                     f"{format_duration(_elapsed(record.created, record.ended)):>8}  {record.profile or '-':<7} {steps}")
    return "\n".join(lines)
