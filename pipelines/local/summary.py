"""The end-of-run summary and `hscode pipeline describe`: statuses, times, best trial, metrics, next commands."""
from __future__ import annotations

import json
from pathlib import Path

from pipelines.local import records as rec
from pipelines.local.progress import format_duration, format_hyperparameters
from pipelines.local.store import ArtifactStore

_HEADLINE_METRICS = ("accuracy", "top_5_accuracy", "top5_accuracy", "macro_f1", "weighted_f1", "chapter_accuracy",
                     "heading_accuracy", "coverage")


def evaluation_metrics(record: rec.ExecutionRecord, store: ArtifactStore) -> dict[str, float]:
    """Flat test metrics from the evaluation.json of the execution's Processing step that wrote one."""
    from pipelines.registry import flatten_metrics

    for step in record.steps.values():
        for output in step.properties.get("ProcessingOutputConfig", {}).get("Outputs", []) if step.status == rec.SUCCEEDED else []:
            path = store.path_for(output["S3Output"]["S3Uri"].rstrip("/")) / "evaluation.json"
            if path.is_file():
                try:
                    return flatten_metrics(json.loads(path.read_text()))
                except ValueError:
                    return {}
    return {}


def retry_hint(record: rec.ExecutionRecord) -> str:
    return f"hscode pipeline retry {record.execution_id}"


def render(record: rec.ExecutionRecord, store: ArtifactStore, verbose: bool = False) -> str:
    lines = []
    total = _elapsed(record.created, record.ended)
    lines.append(f"Execution {record.execution_id}: {record.status}"
                 f"{f' in {format_duration(total)}' if total is not None else ''}"
                 f"{f'  (profile {record.profile})' if record.profile else ''}"
                 f"{f'  retries: {record.retries}' if record.retries else ''}")
    lines.append(f"  started {record.created}" + (f", ended {record.ended}" if record.ended else ""))
    if verbose:
        lines.append("  parameters: " + " ".join(f"{k}={v}" for k, v in record.parameters.items()))
    width = max(len(name) for name in record.steps) if record.steps else 10
    lines.append("  steps:")
    for step in record.steps.values():
        note = step.outputs.get("summary") or step.outputs.get("reason") or ""
        if step.cache_hit_from and "cache hit" not in note:
            note = f"cache hit from {step.cache_hit_from}; {note}"
        lines.append(f"    {step.name:<{width}}  {step.status:<10} {format_duration(step.elapsed_s):>8}  {note}".rstrip())
        if verbose and step.log and Path(step.log).exists():  # condition and fail steps write none
            lines.append(f"    {'':<{width}}  log{'s' if Path(step.log).is_dir() else ''}: {step.log}")
    tune = next((s for s in record.steps.values() if s.type == "Tuning" and s.status == rec.SUCCEEDED), None)
    if tune:
        out = tune.outputs
        objective = out["objective"]
        lines.append(f"  best trial: {out['best_trial']}/{len(out['trials'])} ({out['best_training_job']}), "
                     f"{objective['MetricName']}={objective['Value']:.4f}")
        lines.append(f"    hyper-parameters: {format_hyperparameters(out['best_hyperparameters'])}")
        if verbose:
            for trial in out["trials"]:
                value = f"{trial['objective']:.4f}" if trial["objective"] is not None else "-"
                lines.append(f"    trial {trial['trial']}: {trial['status']:<9} {objective['MetricName']}={value} "
                             f"{format_duration(trial['seconds'])}  {format_hyperparameters(trial['hyperparameters'])}")
    metrics = evaluation_metrics(record, store)
    if metrics:
        shown = {k: v for k, v in metrics.items() if k in _HEADLINE_METRICS} or dict(list(metrics.items())[:6])
        lines.append("  test metrics: " + "  ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    registered = next((s for s in record.steps.values() if s.type == "RegisterModel" and s.status == rec.SUCCEEDED), None)
    if registered:
        lines.append(f"  registered: model version {registered.outputs['version']} ({registered.outputs['approval_status']})"
                     f"  {registered.outputs['model_package_arn']}")
    if record.failure_reason:
        lines.append("  failure: " + record.failure_reason.replace("\n", "\n           "))
    lines.append("")
    lines.extend(_next_commands(record, registered))
    return "\n".join(lines)


def _next_commands(record: rec.ExecutionRecord, registered: rec.StepRecord | None) -> list[str]:
    if record.status == rec.SUCCEEDED and registered:
        version = registered.outputs["version"]
        commands = []
        if registered.outputs["approval_status"] != "Approved":
            commands.append(f"  hscode registry approve {version}      # review, then approve it")
        commands.append('  hscode predict --model latest-approved "cotton t-shirt"')
        return ["Next:"] + commands
    if record.status in (rec.FAILED, rec.STOPPED):
        failed = [s for s in record.steps.values() if s.status in (rec.FAILED, rec.STOPPED)]
        if failed and all(s.type == "Fail" for s in failed):
            return ["Nothing was registered: the quality gate failed. Change the data or the tuning budget, or re-run "
                    "with a different threshold (hscode pipeline run --local --param QualityThreshold=...)."]
        return ["Nothing was registered. Fix the cause above, then resume from the failed step:",
                f"  {retry_hint(record)}"]
    return []


def _elapsed(start: str | None, end: str | None) -> float | None:
    from datetime import datetime

    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def render_list(records: list[rec.ExecutionRecord]) -> str:
    if not records:
        return "No local executions yet: run `hscode pipeline run --local`."
    lines = [f"{'EXECUTION':<24} {'STATUS':<10} {'STARTED':<26} {'TIME':>8}  {'PROFILE':<7} STEPS"]
    for record in reversed(records):
        steps = " ".join(f"{s.name}:{s.status}" for s in record.steps.values() if s.status != rec.NOT_STARTED)
        lines.append(f"{record.execution_id:<24} {record.status:<10} {record.created:<26} "
                     f"{format_duration(_elapsed(record.created, record.ended)):>8}  {record.profile or '-':<7} {steps}")
    return "\n".join(lines)


def log_path_hint(home: Path, record: rec.ExecutionRecord) -> str:
    return str(Path(home) / "executions" / record.execution_id / "logs")
