"""A HyperParameterTuningJob run locally: a seeded Bayesian search (optuna TPE) over the definition's ranges.

What SageMaker would do, on this machine: sample hyper-parameters from the job's own
ParameterRanges (ScalingType honoured), run each trial as a training job, read the objective from
the trial's log with the MetricDefinitions regex (last match wins), keep at most
MaxParallelTrainingJobs trials running (never more than this machine's cores) until
MaxNumberOfTrainingJobs have run, and expose BestTrainingJob and TrainingJobSummaries (best first).
"""
from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.local.errors import DefinitionError, JobFailed, as_number, required
from pipelines.local.processes import terminate_all
from pipelines.local.progress import Console, format_hyperparameters
from pipelines.local.store import ArtifactStore
from pipelines.local.training import run_training_job
from steps.hsml.durations import format_duration


@dataclass
class Trial:
    number: int
    job_name: str
    hyperparameters: dict[str, str]
    status: str = "InProgress"
    objective: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_s: float | None = None
    failure_reason: str | None = None
    model_uri: str | None = None


class SearchSpace:
    """ParameterRanges as optuna distributions; values come back as the strings SageMaker passes to jobs."""

    def __init__(self, ranges: dict):
        import optuna.distributions as d

        self.distributions: dict[str, object] = {}
        self.reverse_log: set[str] = set()
        for spec in ranges.get("ContinuousParameterRanges", []):
            name, low, high = _bounds(spec, float)
            scaling = spec.get("ScalingType", "Auto")
            if scaling == "ReverseLogarithmic":  # dense near the top: sample 1 - x on a log scale
                self.reverse_log.add(name)
                self.distributions[name] = _distribution(d.FloatDistribution, name, 1 - high, 1 - low, log=True)
            else:
                self.distributions[name] = _distribution(d.FloatDistribution, name, low, high,
                                                         log=scaling == "Logarithmic")
        for spec in ranges.get("IntegerParameterRanges", []):
            name, low, high = _bounds(spec, int)
            self.distributions[name] = _distribution(d.IntDistribution, name, low, high,
                                                     log=spec.get("ScalingType") == "Logarithmic")
        for spec in ranges.get("CategoricalParameterRanges", []):
            name = required(spec, "Name", "a CategoricalParameterRanges entry")
            values = required(spec, "Values", f"CategoricalParameterRanges[{name!r}]")
            self.distributions[name] = _distribution(d.CategoricalDistribution, name, [str(v) for v in values])
        if not self.distributions:
            raise DefinitionError("the tuning job has no ParameterRanges to search")

    def as_hyperparameters(self, params: dict) -> dict[str, str]:
        values = {}
        for name, value in params.items():
            if name in self.reverse_log:
                value = 1 - value
            values[name] = f"{value:.6g}" if isinstance(value, float) else str(value)
        return values


def _bounds(spec: dict, kind: type) -> tuple[str, float, float]:
    name = required(spec, "Name", "a parameter range")
    where = f"ParameterRanges[{name!r}]"
    return (name, as_number(required(spec, "MinValue", where), kind, f"{where}.MinValue"),
            as_number(required(spec, "MaxValue", where), kind, f"{where}.MaxValue"))


def _distribution(kind, name: str, *args, **kwargs):
    """An optuna distribution, or a DefinitionError for a range it refuses (low above high, log of 0...)."""
    try:
        return kind(*args, **kwargs)
    except ValueError as error:
        raise DefinitionError(f"ParameterRanges[{name!r}]: {error}") from None


def _sampler(strategy: str, seed: int, max_jobs: int):
    import optuna

    if strategy == "Random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Bayesian (and Hyperband, which the runner treats as Bayesian): TPE after a few random start-up
    # trials; optuna's default of 10 would leave a small budget entirely random.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(1, min(10, max_jobs // 2)))


def run_tuning_job(tuning_job_name: str, arguments: dict, store: ArtifactStore, jobs_dir: Path, logs_dir: Path,
                   console: Console) -> dict:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = required(arguments, "HyperParameterTuningJobConfig", "the tuning job's arguments")
    template = required(arguments, "TrainingJobDefinition", "the tuning job's arguments")
    objective = required(config, "HyperParameterTuningJobObjective", "HyperParameterTuningJobConfig")
    metric_name = required(objective, "MetricName", "HyperParameterTuningJobObjective")
    direction = objective.get("Type", "Maximize")
    limits = config.get("ResourceLimits", {})
    max_jobs = as_number(limits.get("MaxNumberOfTrainingJobs", 1), int, "ResourceLimits.MaxNumberOfTrainingJobs")
    requested_parallel = as_number(limits.get("MaxParallelTrainingJobs", 1), int,
                                   "ResourceLimits.MaxParallelTrainingJobs")
    parallel = max(1, min(requested_parallel, max_jobs, os.cpu_count() or 1))
    if max_jobs < 1:
        raise DefinitionError(f"MaxNumberOfTrainingJobs is {max_jobs}: it must be at least 1")
    space = SearchSpace(config.get("ParameterRanges", {}))
    seed = as_number(config.get("RandomSeed", 0), int, "HyperParameterTuningJobConfig.RandomSeed")
    strategy = config.get("Strategy", "Bayesian")
    study = optuna.create_study(direction="maximize" if direction == "Maximize" else "minimize",
                                sampler=_sampler(strategy, seed, max_jobs))
    console.say(f"    {strategy} search ({'TPE' if strategy != 'Random' else 'random'}, seed {seed}): {max_jobs} trials, "
                f"{parallel} at a time{' (capped at this machine cores)' if parallel < min(requested_parallel, max_jobs) else ''}, "
                f"objective {metric_name} ({direction})")

    trials: list[Trial] = []
    suffix = secrets.token_hex(2)

    def run_trial(trial: Trial, optuna_trial) -> Trial:
        started = time.monotonic()
        job_arguments = {key: value for key, value in template.items() if key not in ("StaticHyperParameters",)}
        job_arguments["HyperParameters"] = {**template.get("StaticHyperParameters", {}), **trial.hyperparameters}
        prefix = f"[trial {trial.number}/{max_jobs}] "
        try:
            properties = run_training_job(trial.job_name, job_arguments, store, jobs_dir / trial.job_name,
                                          logs_dir / f"{trial.job_name}.log", console.job_line(prefix))
            trial.metrics = {m["MetricName"]: m["Value"] for m in properties["FinalMetricDataList"]}
            trial.model_uri = properties["ModelArtifacts"]["S3ModelArtifacts"]
            if metric_name not in trial.metrics:
                raise JobFailed(f"the objective metric {metric_name!r} never appeared in the trial's log "
                                f"(regex {_metric_regex(template, metric_name)})")
            trial.objective = trial.metrics[metric_name]
            trial.status = "Completed"
        except JobFailed as failure:
            trial.status, trial.failure_reason = "Failed", str(failure)
        trial.elapsed_s = time.monotonic() - started
        return trial

    running: dict[Future, tuple[Trial, object]] = {}
    executor = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="trial")
    try:
        while len(trials) < max_jobs or running:
            while len(trials) < max_jobs and len(running) < parallel:
                optuna_trial = study.ask(space.distributions)
                number = len(trials) + 1
                trial = Trial(number, f"{tuning_job_name[:40]}-{number:03d}-{suffix}",
                              space.as_hyperparameters(optuna_trial.params))
                trials.append(trial)
                console.say(f"    trial {number}/{max_jobs} started: {format_hyperparameters(trial.hyperparameters)}")
                running[executor.submit(run_trial, trial, optuna_trial)] = (trial, optuna_trial)
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                trial, optuna_trial = running.pop(future)
                future.result()
                if trial.status == "Completed":
                    study.tell(optuna_trial, trial.objective)
                    best = _best(trials, direction)
                    console.say(f"    trial {trial.number}/{max_jobs} finished in {format_duration(trial.elapsed_s)}: "
                                f"{metric_name}={trial.objective:.4f}"
                                f"{' (best so far)' if best is trial else f' (best: trial {best.number}, {best.objective:.4f})'}")
                else:
                    study.tell(optuna_trial, state=optuna.trial.TrialState.FAIL)
                    console.say(f"    trial {trial.number}/{max_jobs} FAILED after {format_duration(trial.elapsed_s)}: "
                                f"{trial.failure_reason.splitlines()[-1] if trial.failure_reason else ''}")
    except BaseException:
        terminate_all()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)

    best = _best(trials, direction)
    if best is None:
        last = trials[-1].failure_reason if trials else "no trial ran"
        raise JobFailed(f"all {len(trials)} training jobs of the tuning job failed; the last one said:\n{last}")
    return _properties(tuning_job_name, arguments, trials, best, metric_name, direction)


def _metric_regex(template: dict, metric_name: str) -> str:
    definitions = template.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    return next((m.get("Regex") for m in definitions if m.get("Name") == metric_name), "none defined")


def _best(trials: list[Trial], direction: str) -> Trial | None:
    completed = [t for t in trials if t.status == "Completed"]
    if not completed:
        return None
    pick = max if direction == "Maximize" else min
    return pick(completed, key=lambda t: t.objective)  # ties: the earlier trial (max/min keep the first)


def _summary(trial: Trial, metric_name: str, direction: str) -> dict:
    summary = {
        "TrainingJobName": trial.job_name,
        "TrainingJobArn": f"arn:aws:sagemaker:local:000000000000:training-job/{trial.job_name.lower()}",
        "TrainingJobStatus": trial.status,
        "TunedHyperParameters": trial.hyperparameters,
        "ObjectiveStatus": "Succeeded" if trial.status == "Completed" else "Failed",
        "TrainingElapsedSeconds": round(trial.elapsed_s or 0, 1),
    }
    if trial.objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": direction, "MetricName": metric_name, "Value": trial.objective}
    if trial.failure_reason:
        summary["FailureReason"] = trial.failure_reason
    if trial.model_uri:
        summary["ModelArtifacts"] = {"S3ModelArtifacts": trial.model_uri}  # local convenience, not in the API
    return summary


def _properties(name: str, arguments: dict, trials: list[Trial], best: Trial, metric_name: str,
                direction: str) -> dict:
    ranked = sorted(trials, key=lambda t: (t.objective is None,
                                           -(t.objective or 0) if direction == "Maximize" else (t.objective or 0)))
    completed = sum(t.status == "Completed" for t in trials)
    return {
        **arguments,
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:local:000000000000:hyper-parameter-tuning-job/{name.lower()}",
        "HyperParameterTuningJobStatus": "Completed",
        "BestTrainingJob": _summary(best, metric_name, direction),
        # Best first: get_top_model_s3_uri(top_k=0) reads TrainingJobSummaries[0].TrainingJobName.
        "TrainingJobSummaries": [_summary(t, metric_name, direction) for t in ranked],
        "TrainingJobStatusCounters": {"Completed": completed, "Failed": len(trials) - completed,
                                      "InProgress": 0, "Stopped": 0},
        "ObjectiveStatusCounters": {"Succeeded": completed, "Failed": len(trials) - completed, "Pending": 0},
    }
