"""The HS-code pipeline's lines in a local run summary: best trial, test metrics, registered version, next commands.

The generic runner prints statuses and times (pipelines/local/summary.py) and calls `summarize`
for these. The test metrics are the Evaluate step's EvaluationReport PropertyFile, found through
the definition the execution ran.
"""
from __future__ import annotations

from pipelines.hs_code.pipeline import REGISTERED_METRICS
from pipelines.local.progress import format_hyperparameters
from pipelines.local.records import SUCCEEDED
from pipelines.local.summary import ExecutionView
from pipelines.registry import RegistryError, flatten_metrics, metric_text
from steps.hsml.durations import format_duration

EVALUATION_PROPERTY_FILE = "EvaluationReport"
COMPARISON_PROPERTY_FILE = "ApprovedComparison"  # steps/hsml/approved_comparison.py
GENERALISATION_PROPERTY_FILE = "GeneralisationReport"  # steps/hsml/generalisation.py: probe_report


def summarize(execution: ExecutionView, verbose: bool = False) -> list[str]:
    lines = _tuning_lines(execution, verbose)
    metrics = _test_metrics(execution)
    if metrics:
        # The headline metrics are the ones every registered version carries too.
        shown = {k: v for k, v in metrics.items() if k in REGISTERED_METRICS} or dict(list(metrics.items())[:6])
        lines.append("  test metrics: " + "  ".join(metric_text(k, v, ".4f") for k, v in shown.items()))
    lines += _generalisation_lines(execution) + _comparison_lines(execution)
    registered = next(iter(execution.succeeded("RegisterModel")), None)
    if registered:
        out = registered.outputs
        lines.append(f"  registered: model version {out['version']} ({out['approval_status']})  "
                     f"{out['model_package_arn']}")
    return lines + _next_commands(execution, registered)


def _tuning_lines(execution: ExecutionView, verbose: bool) -> list[str]:
    tune = next(iter(execution.succeeded("Tuning")), None)
    if tune is None:
        return []
    out = tune.outputs
    objective = out["objective"]
    lines = [f"  best trial: {out['best_trial']}/{len(out['trials'])} ({out['best_training_job']}), "
             f"{objective['MetricName']}={objective['Value']:.4f}",
             f"    hyper-parameters: {format_hyperparameters(out['best_hyperparameters'])}"]
    if verbose:
        for trial in out["trials"]:
            value = f"{trial['objective']:.4f}" if trial["objective"] is not None else "-"
            lines.append(f"    trial {trial['trial']}: {trial['status']:<9} {objective['MetricName']}={value} "
                         f"{format_duration(trial['seconds'])}  {format_hyperparameters(trial['hyperparameters'])}")
    return lines


def _test_metrics(execution: ExecutionView) -> dict[str, float]:
    report = execution.property_file(EVALUATION_PROPERTY_FILE)
    try:
        return flatten_metrics(report) if isinstance(report, dict) else {}
    except RegistryError:
        return {}


def _comparison_lines(execution: ExecutionView) -> list[str]:
    comparison = execution.property_file(COMPARISON_PROPERTY_FILE)
    if not isinstance(comparison, dict) or "message" not in comparison:
        return []  # a definition without the comparison, or an Evaluate that did not finish
    return [f"  vs approved model: {comparison['message']}"]


def _generalisation_lines(execution: ExecutionView) -> list[str]:
    report = execution.property_file(GENERALISATION_PROPERTY_FILE)
    if not isinstance(report, dict) or "hs6_top1_accuracy" not in report:
        return []
    return [f"  long-text probes of the test rows: HS6 {report['hs6_top1_accuracy']:.4f} "
            f"HS4 {report['hs4_top1_accuracy']:.4f} HS2 {report['hs2_top1_accuracy']:.4f}; commonest prediction "
            f"{report['commonest_predicted_code']} takes {report['commonest_predicted_share']:.1%} "
            f"(commonest true code: {report['true_commonest_share']:.1%})"]


def _next_commands(execution: ExecutionView, registered) -> list[str]:
    record = execution.record
    if record.status == SUCCEEDED and registered:
        commands = ["", "Next:"]
        if registered.outputs["approval_status"] != "Approved":
            commands.append(f"  hscode registry approve {registered.outputs['version']}      # review, then approve it")
        commands.append('  hscode predict --model latest-approved "cotton t-shirt"')
        return commands
    comparison = execution.property_file(COMPARISON_PROPERTY_FILE)
    if record.status == SUCCEEDED and isinstance(comparison, dict) and comparison.get("candidate_is_approved") == 1:
        return ["  nothing was registered: the best model is the approved version itself (same model.tar.gz; "
                "the data is unchanged since it was trained). Add data to retrain."]
    fail_steps = [s for s in record.steps.values() if s.type == "Fail" and s.status != SUCCEEDED and s.failure_reason]
    if fail_steps:
        return ["  nothing was registered: the quality gate failed (the HS6 top-1 threshold, or more than "
                "MaxRegressionVsApproved below the approved model). Change the data or the tuning budget, or set "
                "other limits (hscode pipeline run --local --param QualityThreshold=... "
                "--param MaxRegressionVsApproved=...)."]
    return []
