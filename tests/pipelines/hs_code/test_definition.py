"""The DAG's structure as SageMaker (and the local runner) will read it."""
from __future__ import annotations

import json
import re

import pytest

from pipelines.hs_code.offline import build_definition_offline
from pipelines.hs_code.pipeline import ACCURACY_JSON_PATH, GENERALISATION_METRICS, REGISTERED_METRICS, STEP_NAMES
from pipelines.registry.request import CHECKSUM, DATA_HASH, EXECUTION_ID, METRIC_PREFIX
from steps.hsml.cli_errors import UsageError

SNAPSHOTS_ROOT = "s3://hscode-artifacts/hs-code/snapshots"
SNAPSHOT_HASH = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.SnapshotData.PropertyFiles.DataSnapshot"},
                                 "Path": "hash"}}


def _get(expr):
    return expr["Get"] if isinstance(expr, dict) and "Get" in expr else None


def _snapshot_uri(source: str) -> dict:
    return {"Std:Join": {"On": "/", "Values": [SNAPSHOTS_ROOT, SNAPSHOT_HASH, f"{source}/"]}}


def test_step_names_and_types(steps_by_name):
    assert {name: step["Type"] for name, step in steps_by_name.items()} == {
        "SnapshotData": "Processing", "Preprocess": "Processing", "Tune": "Tuning", "Evaluate": "Processing", "CheckQuality": "Condition",
        "CheckNewModel": "Condition", "Register": "RegisterModel", "Fail": "Fail",
    }
    assert set(steps_by_name) == set(STEP_NAMES)


def test_top_level_order_and_branches(definition, steps_by_name):
    assert [s["Name"] for s in definition["Steps"]] == ["SnapshotData", "Preprocess", "Tune", "Evaluate", "CheckQuality"]
    condition = steps_by_name["CheckQuality"]["Arguments"]
    assert [s["Name"] for s in condition["IfSteps"]] == ["CheckNewModel"]
    assert [s["Name"] for s in condition["ElseSteps"]] == ["Fail"]
    new_model = steps_by_name["CheckNewModel"]["Arguments"]
    assert [s["Name"] for s in new_model["IfSteps"]] == ["Register"] and new_model["ElseSteps"] == []


def test_the_approved_archive_itself_is_not_registered_again(steps_by_name):
    [condition] = steps_by_name["CheckNewModel"]["Arguments"]["Conditions"]
    assert condition == {"Type": "Equals", "RightValue": 0, "LeftValue": {"Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.ApprovedComparison"}, "Path": "candidate_is_approved"}}}


def test_parameters_and_defaults(definition):
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    assert params["InputDataUri"] == ("String", "s3://hscode-artifacts/hs-code/data/")
    assert params["ReferenceDataUri"] == ("String", "s3://hscode-artifacts/hs-code/reference/")
    assert params["ModelApprovalStatus"] == ("String", "PendingManualApproval")
    assert params["QualityThreshold"][0] == "Float"
    for name in ("ProcessingInstanceType", "TrainingInstanceType"):
        assert params[name][0] == "String" and params[name][1].startswith("ml.")
    for name in ("ProcessingInstanceCount", "TrainingInstanceCount", "MaxTuningJobs", "MaxParallelTuningJobs"):
        assert params[name][0] == "Integer" and params[name][1] >= 1


def test_snapshot_job_reads_the_parameters_and_is_never_cached(steps_by_name):
    step = steps_by_name["SnapshotData"]
    assert "CacheConfig" not in step  # it must look at the data on every execution
    args = step["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    assert _get(inputs["data"]["S3Uri"]) == "Parameters.InputDataUri"
    assert _get(inputs["reference"]["S3Uri"]) == "Parameters.ReferenceDataUri"
    assert args["AppSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/processing/input/code/steps/snapshot.py"]
    outputs = {o["OutputName"]: o["S3Output"] for o in args["ProcessingOutputConfig"]["Outputs"]}
    # The content-addressed copy: a static root in the artifact bucket, apart from the data it copies.
    assert outputs["snapshots"]["S3Uri"] == SNAPSHOTS_ROOT
    assert outputs["manifest"]["S3Uri"]["Std:Join"]["Values"][-2:] == [
        {"Get": "Execution.PipelineExecutionId"}, "manifest"]
    assert step["PropertyFiles"] == [
        {"PropertyFileName": "DataSnapshot", "OutputName": "manifest", "FilePath": "snapshot.json"}]
    arguments = args["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--snapshots-dir") + 1] == outputs["snapshots"]["LocalPath"]
    assert arguments[arguments.index("--manifest-dir") + 1] == outputs["manifest"]["LocalPath"]


def test_snapshots_stay_outside_the_prefixes_they_copy(definition):
    defaults = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    for name in ("InputDataUri", "ReferenceDataUri"):
        assert not (SNAPSHOTS_ROOT + "/").startswith(defaults[name]) and not defaults[name].startswith(SNAPSHOTS_ROOT)


def test_preprocess_job(steps_by_name):
    args = steps_by_name["Preprocess"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    # The snapshot, not the parameters: unchanged data resolves to the same URIs (a cache hit).
    assert inputs["data"]["S3Uri"] == _snapshot_uri("data")
    assert inputs["data"]["LocalPath"] == "/opt/ml/processing/input/data"
    assert inputs["reference"]["S3Uri"] == _snapshot_uri("reference")
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert re.fullmatch(r"s3://hscode-artifacts/hs-code/code/[0-9a-f]{16}/files/", inputs["code"]["S3Uri"])
    assert args["AppSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/processing/input/code/steps/preprocess.py"]
    assert args["Environment"]["PYTHONPATH"] == "/opt/ml/processing/input/code"
    [output] = args["ProcessingOutputConfig"]["Outputs"]
    assert output["OutputName"] == "prepared" and output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
    assert _get(args["ProcessingResources"]["ClusterConfig"]["InstanceType"]) == "Parameters.ProcessingInstanceType"


def test_code_objects_are_uploaded_where_the_definition_points(offline_build, steps_by_name):
    code_prefix = next(i["S3Input"]["S3Uri"] for i in steps_by_name["Preprocess"]["Arguments"]["ProcessingInputs"]
                       if i["InputName"] == "code")
    static = steps_by_name["Tune"]["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert code_prefix + "steps/__init__.py" in offline_build.objects
    assert code_prefix + "steps/snapshot.py" in offline_build.objects
    assert static["sagemaker_submit_directory"] in offline_build.objects
    assert "s3://hscode-artifacts/hs-code/data/hs_descriptions_full.csv.gz" in offline_build.objects
    assert "s3://hscode-artifacts/hs-code/reference/hs2022_nomenclature.csv" in offline_build.objects


def test_tuning_strategy_objective_and_limits(steps_by_name):
    config = steps_by_name["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "val_robust_accuracy"}
    assert _get(config["ResourceLimits"]["MaxNumberOfTrainingJobs"]) == "Parameters.MaxTuningJobs"
    assert _get(config["ResourceLimits"]["MaxParallelTrainingJobs"]) == "Parameters.MaxParallelTuningJobs"


def test_tuning_ranges(steps_by_name):
    ranges = steps_by_name["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    categorical = {r["Name"]: r["Values"] for r in ranges["CategoricalParameterRanges"]}
    continuous = {r["Name"]: r for r in ranges["ContinuousParameterRanges"]}
    integer = {r["Name"]: r for r in ranges["IntegerParameterRanges"]}
    assert categorical["model_type"] == ["textcnn", "lstm", "dnn"]
    assert "batch_size" in categorical
    assert continuous["learning_rate"]["ScalingType"] == "Logarithmic"
    assert 0 < float(continuous["learning_rate"]["MinValue"]) < float(continuous["learning_rate"]["MaxValue"]) < 1
    assert 0 <= float(continuous["dropout"]["MinValue"]) < float(continuous["dropout"]["MaxValue"]) < 1
    assert {"embedding_dim", "filters", "units"} <= set(integer)
    static = steps_by_name["Tune"]["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert {"epochs", "patience", "seed"} <= set(static)
    assert not set(static) & (set(categorical) | set(continuous) | set(integer)), "a tuned value is also static"


def test_training_job_definition(steps_by_name):
    job = steps_by_name["Tune"]["Arguments"]["TrainingJobDefinition"]
    metrics = {m["Name"]: m["Regex"] for m in job["AlgorithmSpecification"]["MetricDefinitions"]}
    assert metrics == {"val_robust_accuracy": r"val_robust_accuracy=([0-9\.]+);",
                       "val_accuracy": r"val_accuracy=([0-9\.]+);", "val_macro_f1": r"val_macro_f1=([0-9\.]+);"}
    assert re.search(metrics["val_accuracy"], "epoch 3 val_accuracy=0.8123; val_macro_f1=0.4567;").group(1) == "0.8123"
    # Each regex reads its own line only: the objective's name contains "accuracy=" too.
    log = "val_accuracy=0.5;\nval_robust_accuracy=0.4;\nval_probe_accuracy=0.3;\n"
    assert [re.findall(regex, log) for regex in metrics.values()] == [["0.4"], ["0.5"], []]
    channels = {c["ChannelName"]: _get(c["DataSource"]["S3DataSource"]["S3Uri"]) for c in job["InputDataConfig"]}
    prepared = "Steps.Preprocess.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"
    assert channels == {"train": prepared, "validation": prepared}
    assert job["StaticHyperParameters"]["sagemaker_program"] == "steps/train.py"
    assert _get(job["ResourceConfig"]["InstanceType"]) == "Parameters.TrainingInstanceType"
    assert job["OutputDataConfig"]["S3OutputPath"] == "s3://hscode-artifacts/hs-code/training"


def test_evaluate_reads_the_best_trial(steps_by_name):
    args = steps_by_name["Evaluate"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    model_uri = inputs["model"]["S3Uri"]["Std:Join"]["Values"]
    assert {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"} in model_uri
    assert model_uri[-1] == "output/model.tar.gz"
    assert inputs["model"]["LocalPath"] == "/opt/ml/processing/model"
    assert inputs["test"]["LocalPath"] == "/opt/ml/processing/test"
    assert inputs["reference"]["LocalPath"] == "/opt/ml/processing/input/reference"
    assert inputs["reference"]["S3Uri"] == _snapshot_uri("reference")
    [output] = args["ProcessingOutputConfig"]["Outputs"]
    assert (output["OutputName"], output["S3Output"]["LocalPath"]) == ("evaluation", "/opt/ml/processing/evaluation")
    assert steps_by_name["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"},
        {"PropertyFileName": "EvaluationLineage", "OutputName": "evaluation", "FilePath": "lineage.json"},
        {"PropertyFileName": "GeneralisationReport", "OutputName": "evaluation", "FilePath": "generalisation.json"},
        {"PropertyFileName": "ApprovedComparison", "OutputName": "evaluation", "FilePath": "comparison.json"}]


def test_evaluate_reads_the_approved_model_pointer_and_the_margin(steps_by_name, offline_build):
    args = steps_by_name["Evaluate"]["Arguments"]
    inputs = {i["InputName"]: i["S3Input"] for i in args["ProcessingInputs"]}
    # A fixed prefix per group, which approvals rewrite (pipelines/registry/approved_pointer.py) ...
    assert inputs["approved"]["S3Uri"] == "s3://hscode-artifacts/hs-code/approved/hs-code-classifier/"
    assert inputs["approved"]["LocalPath"] == "/opt/ml/processing/approved"
    # ... never empty (SageMaker refuses an input prefix with no object): the build seeds {"model": null}.
    seeded = offline_build.objects["s3://hscode-artifacts/hs-code/approved/hs-code-classifier/approved.json"]
    assert json.loads(seeded) == {"model": None}
    arguments = args["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--approved-dir") + 1] == "/opt/ml/processing/approved"
    margin = arguments[arguments.index("--max-regression") + 1]
    assert margin == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.MaxRegressionVsApproved"}]}}


def test_quality_conditions_threshold_and_approved_model(steps_by_name, definition):
    threshold, approved = steps_by_name["CheckQuality"]["Arguments"]["Conditions"]
    for condition in (threshold, approved):
        assert condition["Type"] == "GreaterThanOrEqualTo"
        assert condition["LeftValue"]["Std:JsonGet"]["Path"] == ACCURACY_JSON_PATH == "multiclass_classification_metrics.accuracy.value"
        assert _get(condition["LeftValue"]["Std:JsonGet"]["PropertyFile"]) == "Steps.Evaluate.PropertyFiles.EvaluationReport"
    assert _get(threshold["RightValue"]) == "Parameters.QualityThreshold"
    # The approved model's HS6 top-1 on the same rows minus the margin (0 when none is approved).
    assert approved["RightValue"] == {"Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.ApprovedComparison"}, "Path": "floor"}}
    params = {p["Name"]: (p["Type"], p["DefaultValue"]) for p in definition["Parameters"]}
    assert params["MaxRegressionVsApproved"] == ("Float", 0.03)


def test_fail_message_carries_the_measured_values_and_the_comparison(steps_by_name):
    values = steps_by_name["Fail"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                            "Path": ACCURACY_JSON_PATH}} in values
    assert {"Get": "Parameters.QualityThreshold"} in values
    assert {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.ApprovedComparison"},
                            "Path": "message"}} in values


def test_register_model_package(steps_by_name):
    args = steps_by_name["Register"]["Arguments"]
    assert args["ModelPackageGroupName"] == "hs-code-classifier"
    assert _get(args["ModelApprovalStatus"]) == "Parameters.ModelApprovalStatus"
    [container] = args["InferenceSpecification"]["Containers"]
    assert re.fullmatch(r"\d+\.dkr\.ecr\.us-east-1\.amazonaws\.com/tensorflow-inference:2\.20-cpu(-py\d+)?", container["Image"])
    assert {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"} in container["ModelDataUrl"]["Std:Join"]["Values"]
    assert "" not in container.get("Environment", {}).values()
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    assert _get(args["MetadataProperties"]["GeneratedBy"]) == "Execution.PipelineExecutionArn"


def test_register_carries_lineage_and_metrics_under_the_registry_keys(steps_by_name):
    properties = steps_by_name["Register"]["Arguments"]["CustomerMetadataProperties"]
    assert _get(properties[EXECUTION_ID]) == "Execution.PipelineExecutionId"
    assert properties[DATA_HASH] == SNAPSHOT_HASH
    assert properties[CHECKSUM] == {"Std:JsonGet": {
        "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationLineage"}, "Path": "model_sha256"}}
    for name in REGISTERED_METRICS:
        # A number becomes a string only through Join: CustomerMetadataProperties values must be strings.
        [value] = properties[f"{METRIC_PREFIX}{name}"]["Std:Join"]["Values"]
        assert value == {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                         "Path": f"multiclass_classification_metrics.{name}.value"}}
    for name, path in GENERALISATION_METRICS.items():
        [value] = properties[f"{METRIC_PREFIX}{name}"]["Std:Join"]["Values"]
        assert value == {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.GeneralisationReport"},
                                         "Path": path}}
    assert len(properties) <= 50  # SageMaker's limit on CustomerMetadataProperties entries


def test_step_caching(steps_by_name):
    for name in ("Preprocess", "Tune"):
        assert steps_by_name[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
    # SnapshotData must look at the data, Evaluate at the approved model, on every execution.
    assert "CacheConfig" not in steps_by_name["SnapshotData"] and "CacheConfig" not in steps_by_name["Evaluate"]


def test_static_hyperparameters_can_be_overridden_but_not_tuned_ones(frozen_steps_dir):
    definition = json.loads(build_definition_offline(steps_dir=frozen_steps_dir, stage_data=False,
                                                     static_hyperparameters={"epochs": 4}))
    tune = next(s for s in definition["Steps"] if s["Name"] == "Tune")
    static = tune["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["epochs"] == "4" and static["patience"] == "3"
    with pytest.raises(ValueError, match="model_type"):
        build_definition_offline(steps_dir=frozen_steps_dir, stage_data=False,
                                 static_hyperparameters={"model_type": "lstm"})


def test_quick_search_space_is_the_tables_quick_space(frozen_steps_dir):
    from steps.hsml.hyperparameters import search_space

    definition = json.loads(build_definition_offline(steps_dir=frozen_steps_dir, stage_data=False,
                                                     search_space="quick"))
    tune = next(s for s in definition["Steps"] if s["Name"] == "Tune")
    ranges = tune["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    categorical = {r["Name"]: r["Values"] for r in ranges["CategoricalParameterRanges"]}
    # Which model families the quick space searches is the hyper-parameter table's choice (models.md).
    assert categorical["model_type"] == list(search_space("quick")["model_type"].values)
    assert set(categorical["model_type"]) <= {"textcnn", "lstm", "dnn"}
    with pytest.raises(UsageError, match="unknown search space"):
        build_definition_offline(steps_dir=frozen_steps_dir, stage_data=False, search_space="huge")
