"""hscode monitor run: the closed loop on this machine (docs/monitoring.md#the-loop).

    drift check over the capture -> (drift, or --force) -> export the broker feedback joined with the capture
    -> copy it under the training data the pipeline reads (its InputDataUri, in the local store)
    -> run the training pipeline locally (the generic runner, as `hscode pipeline run --local`)
    -> the new version, PendingManualApproval: a person approves it, as on AWS.

No drift and no --force: the check is the whole run (exit 0). The same steps on AWS are the drift alarm and
the retraining rule of infra/retraining-rules.yml.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from pipelines import settings
from pipelines.monitoring import drift

FEEDBACK_FOLDER = "feedback"  # under InputDataUri: Preprocess reads every csv under the prefix


@dataclass
class LoopResult:
    drift: drift.DriftReport
    retrained: bool
    feedback_uri: str | None = None
    feedback_counts: dict | None = None
    execution_id: str | None = None
    version: int | None = None
    status: str | None = None


def _default_input_uri(definition: dict) -> str:
    for parameter in definition.get("Parameters", []):
        if parameter.get("Name") == "InputDataUri":
            return parameter["DefaultValue"]
    raise drift.UsageError("the pipeline definition has no InputDataUri parameter: cannot place the feedback")


def run_loop(*, model: str = "latest-approved", capture: Path | None = None, ground_truth: Path | None = None,
             endpoint: str = drift.DEFAULT_ENDPOINT, variant: str = drift.DEFAULT_VARIANT,
             since: datetime | None = None, group: str | None = None, force: bool = False,
             profile: str | None = None, parameters: dict[str, str] | None = None,
             build_options: dict | None = None, quiet: bool = False,
             say: Callable[[str], None] = print) -> LoopResult:
    """One turn of the loop; `parameters` / `build_options` override the profile's (tests use tiny ones)."""
    from pipelines.cli.pipeline_local import finish_execution, local_runner
    from pipelines.hs_code import PIPELINE_MODULE
    from pipelines.local.build import build_local_definition
    from pipelines.local.pipeline_module import PipelineModule
    from pipelines.local.progress import Console
    from pipelines.local.store import ArtifactStore
    from pipelines.registry import LocalRegistry
    from pipelines.serving.feedback import export_training_csv

    home = settings.hscode_home()
    capture = Path(capture or home / "capture")
    ground_truth = Path(ground_truth or home / "ground-truth")
    group = group or settings.DEFAULT_MODEL_PACKAGE_GROUP

    say("1/4 drift check")
    report = drift.check_drift(model, capture, endpoint=endpoint, variant=variant, since=since,
                               out_dir=None, group=group)
    say(drift.summary(report))
    result = LoopResult(drift=report, retrained=False)
    if not report.result.get("drift") and not force:
        say("no drift: nothing to retrain (--force retrains anyway)")
        return result

    say(("2/4 drift: exporting" if report.result.get("drift") else "2/4 --force: exporting")
        + f" the broker feedback ({ground_truth}) joined with the capture ({capture})")
    csv_path, counts = export_training_csv(capture, ground_truth, report.out_dir, endpoint=endpoint)
    say(f"    {counts['joined']} labelled rows -> {csv_path} ({counts['labels']} labels, "
        f"{counts['without_description']} without a captured description, {counts['corrections']} corrections)")
    if not counts["joined"]:
        say("    note: no feedback rows; the pipeline retrains on the data it already has (its cached steps hit)")

    module = PipelineModule.load(PIPELINE_MODULE)
    chosen = module.profile(profile)
    overrides = {**(chosen.parameters if chosen else {}), **(parameters or {})}
    options, _ = module.split_build_options({**(chosen.build_options if chosen else {}), **(build_options or {})})
    say(f"3/4 building the training pipeline ({module.name}, profile {chosen.name if chosen else 'none'})")
    build = build_local_definition(home, module, model_package_group_name=group, **options)
    input_uri = overrides.get("InputDataUri") or _default_input_uri(build.definition)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    feedback_uri = f"{input_uri.rstrip('/')}/{FEEDBACK_FOLDER}/feedback-{stamp}.csv"
    store = ArtifactStore.under(home)
    if counts["joined"]:
        store.put_bytes(feedback_uri, csv_path.read_bytes())
        say(f"    feedback copied to {feedback_uri} ({store.path_for(feedback_uri)})")
        result.feedback_uri = feedback_uri
    result.feedback_counts = counts

    say("4/4 running the training pipeline locally (`hscode pipeline describe ID` for the details)")
    runner = local_runner(build.definition, home, Console(show_job_output=not quiet), module.name,
                     pipeline_name=build.pipeline_name)
    record = runner.start(overrides, profile=chosen.name if chosen else None, pipeline_module=module.name)
    finish_execution("hscode monitor run", runner, record, module)  # JobFailed (exit 1) for a failed execution
    result.retrained, result.execution_id = True, record.execution_id
    versions = [v for v in LocalRegistry(home=home).list_versions(group) if v.execution_id == record.execution_id]
    if versions:
        result.version, result.status = versions[-1].version, versions[-1].status
        say(f"new version {result.version} of {group}: {result.status}; review it with `hscode registry describe "
            f"{result.version}`, approve it with `hscode registry approve {result.version}`, then A/B it "
            f"(`hscode ab start --challenger {result.version}`)")
    else:
        say(f"execution {record.execution_id} registered no version (the quality gate held it back): "
            f"`hscode pipeline describe {record.execution_id}`")
    return result
