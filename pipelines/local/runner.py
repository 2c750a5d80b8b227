"""Walks the pipeline definition's DAG and runs each step locally, recording the execution as it goes.

    runner = LocalRunner(definition, home)
    record = runner.start({"Threshold": "0.5"})          # a new execution, parameters as --param gives them
    record = runner.retry(record.execution_id)           # from its failed step, reusing what succeeded
"""
from __future__ import annotations

import json
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping

from pipelines.local import records as rec
from pipelines.local.caching import StepCache, cache_key
from pipelines.local.conditions import evaluate_all
from pipelines.local.dag import StepNode, build_dag, topological_order
from pipelines.local.errors import DefinitionError, JobFailed, LocalRunnerBug, internal_error_message
from pipelines.local.expressions import ResolutionError, Resolver
from pipelines.local.processes import Interrupted, terminate_all
from pipelines.local.processing import run_processing_job
from pipelines.local.progress import Console
from pipelines.local.property_files import property_file_uri, read_json
from pipelines.local.registration import register_model_package
from pipelines.local.store import ArtifactStore, StoreError
from pipelines.local.training import run_training_job
from pipelines.local.tuning import run_tuning_job
from pipelines.parameters import resolve_parameters

RUNNER_LOG = "runner.log"  # in an execution's logs/: the traceback of an internal error


class StepFailed(Exception):
    """A step ended Failed; its message is the failure reason recorded for the step and the execution."""


# What fails a step (and only the step): errors in the definition, failed jobs, missing data, a Fail step.
# Any other exception is a bug in the runner (see _record_internal_error).
_STEP_FAILURES = (DefinitionError, JobFailed, StoreError, StepFailed)


@contextmanager
def _stop_on_signals():
    """SIGTERM behaves like Ctrl-C: the runner stops its jobs and records the execution as Stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class LocalRunner:
    def __init__(self, definition: dict | str, home: Path, console: Console | None = None, use_cache: bool = True,
                 pipeline_name: str | None = None):
        self.definition = json.loads(definition) if isinstance(definition, str) else definition
        self.home = Path(home)
        self.console = console or Console()
        self.store = ArtifactStore.under(self.home)
        self.executions = rec.ExecutionStore(self.home)
        self.cache = StepCache(self.home, self.store) if use_cache else None
        self.nodes = build_dag(self.definition)
        self.order = topological_order(self.nodes)
        self.pipeline_name = pipeline_name or self.definition.get("PipelineName") or "local-pipeline"

    # ---- entry points
    def start(self, overrides: Mapping[str, str] | list[str] = (), profile: str | None = None,
              pipeline_module: str | None = None) -> rec.ExecutionRecord:
        """A new execution. `profile` and `pipeline_module` are labels kept in the record (for describe)."""
        parameters = resolve_parameters(self.definition.get("Parameters", []), overrides)
        record = rec.ExecutionRecord(
            execution_id=rec.new_execution_id(), pipeline_name=self.pipeline_name, status=rec.EXECUTING,
            created=rec.now(), parameters=parameters, profile=profile, pipeline_module=pipeline_module,
            steps={name: rec.StepRecord(name, node.type) for name, node in self.nodes.items()},
        )
        self.executions.save_definition(record.execution_id, self.definition)
        self.executions.save(record)
        steps = f"{len(self.nodes)} step{'s' * (len(self.nodes) != 1)}"
        self.console.say(f"Execution {record.execution_id} of {self.pipeline_name}"
                         f"{f' (profile {profile})' if profile else ''}: {steps}")
        self.console.say("  parameters: " + " ".join(f"{k}={v}" for k, v in parameters.items()))
        return self._execute(record)

    def retry(self, execution_id: str) -> rec.ExecutionRecord:
        record = self.executions.load(execution_id)
        if record.status == rec.SUCCEEDED:
            self.console.say(f"Execution {execution_id} already succeeded; nothing to retry.")
            return record
        reused = [s.name for s in record.steps.values() if s.status == rec.SUCCEEDED]
        for step in record.steps.values():
            if step.status != rec.SUCCEEDED:
                step.status, step.failure_reason = rec.NOT_STARTED, None
        record.status, record.failure_reason, record.ended = rec.EXECUTING, None, None
        record.retries += 1
        self.console.say(f"Retrying execution {execution_id} (retry {record.retries}); reusing "
                         f"{', '.join(reused) or 'nothing'}")
        return self._execute(record)

    # ---- the walk
    def _execute(self, record: rec.ExecutionRecord) -> rec.ExecutionRecord:
        self.executions.save(record)
        current: str | None = None
        try:
            with _stop_on_signals():
                for name in self.order:
                    step = record.steps[name]
                    if step.status == rec.SUCCEEDED:
                        continue
                    current = name
                    skip_reason = self._skip_reason(self.nodes[name], record)
                    if skip_reason:
                        step.status, step.outputs = rec.SKIPPED, {"reason": skip_reason}
                        self.executions.save(record)
                        self.console.say(f"{self.console.clock()} --- {name} skipped ({skip_reason})")
                        continue
                    self._run_step(self.nodes[name], record)
                    current = None
            record.status = rec.SUCCEEDED
        except StepFailed as failure:
            record.status, record.failure_reason = rec.FAILED, f"step {current} failed: {failure}"
        except (KeyboardInterrupt, Interrupted) as stop:
            terminate_all()
            if current:
                step = record.steps[current]
                step.status, step.failure_reason = rec.STOPPED, f"stopped by {stop or 'SIGINT'}"
                step.ended = rec.now()
                if step.started:
                    step.elapsed_s = rec.seconds_between(step.started, step.ended)
            record.status, record.failure_reason = rec.STOPPED, f"stopped during step {current}"
        except Exception as bug:
            self._record_internal_error(record, current, bug)
            raise LocalRunnerBug(record.failure_reason) from bug
        record.ended = rec.now()
        self.executions.save(record)
        return record

    def _record_internal_error(self, record: rec.ExecutionRecord, current: str | None, bug: Exception) -> None:
        """A bug in the runner, not in the definition or a job: Failed, with the traceback in the execution's log."""
        terminate_all()
        message = internal_error_message(bug)
        log = self._logs_dir(record) / RUNNER_LOG
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{rec.now()} {message}\n{''.join(traceback.format_exception(bug))}\n")
        if current:
            step = record.steps[current]
            step.status, step.failure_reason, step.ended = rec.FAILED, message, rec.now()
            if step.started:
                step.elapsed_s = rec.seconds_between(step.started, step.ended)
        record.status, record.failure_reason = rec.FAILED, f"{message} (traceback in {log})"
        record.ended = rec.now()
        self.executions.save(record)

    def _skip_reason(self, node: StepNode, record: rec.ExecutionRecord) -> str | None:
        if node.branch:
            condition, wanted = node.branch
            outcome = record.steps[condition].properties.get("Outcome")
            if outcome is not wanted:
                return f"{condition} evaluated to {str(outcome).lower()}"
        skipped = [d for d in sorted(node.depends_on) if record.steps[d].status == rec.SKIPPED]
        if skipped:
            return f"depends on skipped {', '.join(skipped)}"
        return None

    def _run_step(self, node: StepNode, record: rec.ExecutionRecord) -> None:
        step = record.steps[node.name]
        step.status, step.started, step.ended, step.attempts = rec.EXECUTING, rec.now(), None, step.attempts + 1
        # A tuning step's log is one file per trial (logs/<trial job>.log); the others have one each.
        step.log = str(self._logs_dir(record) / (f"{node.name}.log" if node.type != "Tuning" else ""))
        self.executions.save(record)
        self.console.step_started(node.name, node.type)
        began = time.monotonic()
        try:
            properties, outputs = self._dispatch(node, record)
        except _STEP_FAILURES as error:
            step.status, step.failure_reason = rec.FAILED, _reason(error)
            step.ended, step.elapsed_s = rec.now(), round(time.monotonic() - began, 2)
            self.executions.save(record)
            self.console.step_finished(node.name, rec.FAILED, step.elapsed_s)
            for line in step.failure_reason.splitlines():
                self.console.say(f"    | {line}")
            raise StepFailed(step.failure_reason) from error
        step.properties, step.outputs = properties, outputs
        step.status, step.ended, step.elapsed_s = rec.SUCCEEDED, rec.now(), round(time.monotonic() - began, 2)
        self.executions.save(record)
        detail = outputs.get("summary", "")
        self.console.step_finished(node.name, rec.SUCCEEDED, step.elapsed_s, detail)

    def _dispatch(self, node: StepNode, record: rec.ExecutionRecord) -> tuple[dict, dict]:
        resolver = self._resolver(record)
        if node.type == "Condition":
            outcome, account = evaluate_all(node.spec["Arguments"]["Conditions"], resolver.resolve)
            branch = "IfSteps" if outcome else "ElseSteps"
            names = [s["Name"] for s in node.spec["Arguments"].get(branch, [])]
            return {"Outcome": outcome}, {"summary": f"{account} is {str(outcome).lower()} -> {', '.join(names) or 'nothing'}",
                                          "outcome": outcome, "evaluated": account}
        if node.type == "Fail":
            message = resolver.resolve(node.spec.get("Arguments", {}).get("ErrorMessage", ""))
            raise StepFailed(str(message) or "the pipeline reached its Fail step")
        arguments = resolver.resolve(node.spec.get("Arguments", {}))
        if node.type == "Model":
            return {**arguments, "ModelName": f"pipelines-{record.execution_id}-{node.name}".lower()}, {}
        if node.type == "RegisterModel":
            properties = register_model_package(arguments, self.home, record.execution_id)
            return properties, {"summary": f"model package version {properties['ModelPackageVersion']} "
                                           f"({properties['ModelApprovalStatus']})",
                                "model_package_arn": properties["ModelPackageArn"],
                                "version": properties["ModelPackageVersion"],
                                "approval_status": properties["ModelApprovalStatus"]}
        return self._run_job_step(node, record, arguments)

    def _run_job_step(self, node: StepNode, record: rec.ExecutionRecord, arguments: dict) -> tuple[dict, dict]:
        step = record.steps[node.name]
        cache_config = node.spec.get("CacheConfig") or {}
        key = cache_key(self.pipeline_name, node.name, node.type, arguments) if cache_config.get("Enabled") else None
        if key and self.cache:
            hit = self.cache.lookup(key, cache_config.get("ExpireAfter"))
            if hit:
                step.cache_hit_from = hit["execution_id"]
                outputs = _job_outputs(node.type, hit["properties"])
                outputs["summary"] = f"cache hit: reusing execution {hit['execution_id']}" + (
                    f"; {outputs['summary']}" if outputs.get("summary") else "")
                return hit["properties"], outputs
        step.cache_hit_from = None
        jobs_dir, logs_dir, log = self._jobs_dir(record), self._logs_dir(record), Path(step.log)
        job_name = f"pipelines-{record.execution_id}-{node.name}".lower()
        if node.type == "Processing":
            properties = run_processing_job(job_name, arguments, self.store, jobs_dir / job_name, log,
                                            self.console.job_line(""))
        elif node.type == "Training":
            properties = run_training_job(job_name, arguments, self.store, jobs_dir / job_name, log,
                                          self.console.job_line(""))
        else:  # Tuning
            properties = run_tuning_job(f"{node.name}-{record.execution_id}".lower(), arguments, self.store, jobs_dir,
                                        logs_dir, self.console)
        if key and self.cache:
            self.cache.save(key, record.execution_id, properties)
        return properties, _job_outputs(node.type, properties)

    # ---- resolution
    def _resolver(self, record: rec.ExecutionRecord) -> Resolver:
        def step_properties(name: str) -> dict:
            step = record.steps.get(name)
            if step is None:
                raise ResolutionError(f"no step named {name!r} in the pipeline")
            if step.status != rec.SUCCEEDED:
                raise ResolutionError(f"step {name!r} has not succeeded (status {step.status}); its properties "
                                      "are not available")
            return step.properties

        def property_file(step_name: str, file_name: str) -> Any:
            if step_name not in self.nodes:
                raise ResolutionError(f"no step named {step_name!r} in the pipeline")
            return read_json(self.store, property_file_uri(step_name, self.nodes[step_name].spec,
                                                           step_properties(step_name), file_name))

        variables = {
            "PipelineExecutionId": record.execution_id,
            "PipelineExecutionArn": f"arn:aws:sagemaker:local:000000000000:pipeline/{self.pipeline_name}/"
                                    f"execution/{record.execution_id}",
            "PipelineName": self.pipeline_name,
            "PipelineArn": f"arn:aws:sagemaker:local:000000000000:pipeline/{self.pipeline_name}",
            "StartDateTime": record.created,
            "CurrentDateTime": rec.now(),
        }
        return Resolver(record.parameters, variables, step_properties, property_file,
                        lambda uri: read_json(self.store, uri))

    def _jobs_dir(self, record: rec.ExecutionRecord) -> Path:
        return self.executions.folder(record.execution_id) / "jobs"

    def _logs_dir(self, record: rec.ExecutionRecord) -> Path:
        path = self.executions.folder(record.execution_id) / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _job_outputs(step_type: str, properties: dict) -> dict:
    """A short human summary of what a job step produced (kept in the record and shown by describe)."""
    if step_type == "Processing":
        uris = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in properties.get("ProcessingOutputConfig", {}).get("Outputs", [])}
        return {"outputs": uris}
    if step_type == "Training":
        return {"model": properties["ModelArtifacts"]["S3ModelArtifacts"],
                "metrics": {m["MetricName"]: m["Value"] for m in properties.get("FinalMetricDataList", [])}}
    best = properties["BestTrainingJob"]
    objective = best["FinalHyperParameterTuningJobObjectiveMetric"]
    rank = {s["TrainingJobName"]: i for i, s in enumerate(properties["TrainingJobSummaries"])}
    trials = sorted(properties["TrainingJobSummaries"], key=lambda s: s["TrainingJobName"])
    number = next(i for i, s in enumerate(trials, 1) if s["TrainingJobName"] == best["TrainingJobName"])
    counters = properties.get("TrainingJobStatusCounters", {})
    return {
        "summary": f"trial {number}/{len(trials)} won: {objective['MetricName']}={objective['Value']:.4f}",
        "best_training_job": best["TrainingJobName"],
        "best_trial": number,
        "objective": objective,
        "best_hyperparameters": best["TunedHyperParameters"],
        "best_model": best.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        "trials": [{"trial": i, "job": s["TrainingJobName"], "status": s["TrainingJobStatus"],
                    "objective": s.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
                    "seconds": s.get("TrainingElapsedSeconds"), "rank": rank[s["TrainingJobName"]] + 1,
                    "hyperparameters": s["TunedHyperParameters"]} for i, s in enumerate(trials, 1)],
        "completed": counters.get("Completed"), "failed": counters.get("Failed"),
    }


__all__ = ["LocalRunner", "StepFailed"]
