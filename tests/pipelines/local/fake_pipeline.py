"""A small hand-written pipeline definition (the real SageMaker JSON schema) with tiny fake step scripts.

Same shape as the project's DAG (Preprocess -> Tune -> Evaluate -> CheckQuality -> Register | Fail),
but the scripts are a few lines of plain Python, so runner tests take seconds, not minutes.
"""
from __future__ import annotations

import textwrap

from pipelines.local.store import ArtifactStore

BUCKET = "fake-bucket"
CODE_URI = f"s3://{BUCKET}/p/code/files/"
DATA_URI = f"s3://{BUCKET}/p/data/"

PREPROCESS = '''
import argparse, json, os, pathlib, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--input-dir"); parser.add_argument("--output-dir"); parser.add_argument("--sleep", type=float, default=0)
args = parser.parse_args()
files = sorted(pathlib.Path(args.input_dir).glob("*.csv"))
if not files:
    sys.exit(f"no csv files in {args.input_dir}")
rows = [l for f in files for l in f.read_text().splitlines()[1:] if l.strip()]
if any(",bad," in r for r in rows):
    raise ValueError("row 2: hs_code 'bad' is not a 6-digit HS code")
print(f"[preprocess] {len(rows)} rows")
time.sleep(args.sleep)
out = pathlib.Path(args.output_dir)
(out / "train.csv").write_text("description,hs_code\\n" + "\\n".join(rows) + "\\n")
(out / "test.csv").write_text("description,hs_code\\n" + "\\n".join(rows) + "\\n")
(out / "report.json").write_text(json.dumps({"data_sha256": "abc123", "rows": len(rows)}))
'''

TRAIN = '''
import argparse, json, os, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--learning_rate", type=float); parser.add_argument("--units", type=int)
parser.add_argument("--model_type"); parser.add_argument("--epochs", type=int)
args = parser.parse_args()
assert (pathlib.Path(os.environ["SM_CHANNEL_TRAIN"]) / "train.csv").is_file()
score = 0.5 + 0.1 * (args.model_type == "cnn") + args.units / 1000.0
for epoch in range(args.epochs):
    print(f"epoch {epoch + 1}/{args.epochs} val_accuracy={score * (epoch + 1) / args.epochs:.4f};")
model_dir = pathlib.Path(os.environ["SM_MODEL_DIR"])
(model_dir / "metadata.json").write_text(json.dumps({"score": score, "hps": json.loads(os.environ["SM_HPS"])}))
'''

EVALUATE = '''
import argparse, json, pathlib, tarfile
parser = argparse.ArgumentParser()
parser.add_argument("--model-dir"); parser.add_argument("--output-dir")
args = parser.parse_args()
with tarfile.open(pathlib.Path(args.model_dir) / "model.tar.gz") as archive:
    metadata = json.load(archive.extractfile("metadata.json"))
report = {"multiclass_classification_metrics": {"accuracy": {"value": round(metadata["score"], 4), "standard_deviation": "NaN"}}}
(pathlib.Path(args.output_dir) / "evaluation.json").write_text(json.dumps(report))
print("accuracy", metadata["score"])
'''


def stage(store: ArtifactStore, rows: list[str] | None = None) -> None:
    """Put the fake scripts and a small dataset where the definition's defaults point."""
    for name, body in (("preprocess.py", PREPROCESS), ("train.py", TRAIN), ("evaluate.py", EVALUATE)):
        store.put_bytes(f"{CODE_URI}steps/{name}", textwrap.dedent(body).encode())
    rows = rows or ["cotton t-shirt,610910", "leather handbag,420221", "steel screws,731815"]
    store.put_bytes(f"{DATA_URI}input.csv", ("description,hs_code\n" + "\n".join(rows) + "\n").encode())


def _processing(name, script, inputs, outputs, arguments, cache=True, property_files=None):
    step = {
        "Name": name, "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30}},
            "AppSpecification": {"ImageUri": "img", "ContainerEntrypoint": ["python3", f"/opt/ml/processing/input/code/steps/{script}"],
                                 "ContainerArguments": arguments},
            "Environment": {"PYTHONPATH": "/opt/ml/processing/input/code"},
            "RoleArn": "arn:aws:iam::123456789012:role/x",
            "ProcessingInputs": [
                {"InputName": "code", "S3Input": {"S3Uri": CODE_URI, "LocalPath": "/opt/ml/processing/input/code",
                                                  "S3DataType": "S3Prefix", "S3InputMode": "File"}},
                *[{"InputName": n, "S3Input": {"S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix",
                                               "S3InputMode": "File"}} for n, uri, path in inputs],
            ],
            "ProcessingOutputConfig": {"Outputs": [
                {"OutputName": n, "S3Output": {"S3Uri": {"Std:Join": {"On": "/", "Values": [
                    "s3:/", BUCKET, "p", {"Get": "Execution.PipelineExecutionId"}, n]}},
                    "LocalPath": path, "S3UploadMode": "EndOfJob"}} for n, path in outputs]},
        },
    }
    if cache:
        step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
    if property_files:
        step["PropertyFiles"] = property_files
    return step


def definition(preprocess_sleep: float = 0.0) -> dict:
    prepared = {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"}
    best_model = {"Std:Join": {"On": "/", "Values": [
        "s3:/", BUCKET, "p/training", {"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}, "output/model.tar.gz"]}}
    accuracy = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                "Path": "multiclass_classification_metrics.accuracy.value"}}
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": DATA_URI},
            {"Name": "MaxTuningJobs", "Type": "Integer", "DefaultValue": 3},
            {"Name": "MaxParallelTuningJobs", "Type": "Integer", "DefaultValue": 2},
            {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.3},
            {"Name": "ModelApprovalStatus", "Type": "String", "DefaultValue": "PendingManualApproval"},
        ],
        "PipelineExperimentConfig": {"ExperimentName": {"Get": "Execution.PipelineName"},
                                     "TrialName": {"Get": "Execution.PipelineExecutionId"}},
        "Steps": [
            _processing("Preprocess", "preprocess.py",
                        [("data", {"Get": "Parameters.InputDataUri"}, "/opt/ml/processing/input/data")],
                        [("prepared", "/opt/ml/processing/output")],
                        ["--input-dir", "/opt/ml/processing/input/data", "--output-dir", "/opt/ml/processing/output",
                         "--sleep", str(preprocess_sleep)],
                        property_files=[{"PropertyFileName": "PreprocessReport", "OutputName": "prepared",
                                         "FilePath": "report.json"}]),
            {
                "Name": "Tune", "Type": "Tuning",
                "Arguments": {
                    "HyperParameterTuningJobConfig": {
                        "Strategy": "Bayesian",
                        "ResourceLimits": {"MaxNumberOfTrainingJobs": {"Get": "Parameters.MaxTuningJobs"},
                                           "MaxParallelTrainingJobs": {"Get": "Parameters.MaxParallelTuningJobs"}},
                        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val_accuracy"},
                        "ParameterRanges": {
                            "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.1",
                                                           "ScalingType": "Logarithmic"}],
                            "IntegerParameterRanges": [{"Name": "units", "MinValue": "10", "MaxValue": "200",
                                                        "ScalingType": "Auto"}],
                            "CategoricalParameterRanges": [{"Name": "model_type", "Values": ["cnn", "dnn"]}],
                        },
                        "RandomSeed": 7,
                    },
                    "TrainingJobDefinition": {
                        "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File",
                                                   "MetricDefinitions": [{"Name": "val_accuracy",
                                                                          "Regex": "val_accuracy=([0-9\\.]+);"}]},
                        "StaticHyperParameters": {"epochs": "3", "sagemaker_program": "steps/train.py",
                                                  "sagemaker_submit_directory": f"s3://{BUCKET}/p/code/sourcedir.tar.gz"},
                        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                            "S3DataType": "S3Prefix", "S3Uri": prepared}}}],
                        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/p/training"},
                        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
                        "Environment": {"PYTHONPATH": "/opt/ml/code"},
                    },
                },
                "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
            },
            _processing("Evaluate", "evaluate.py",
                        [("model", best_model, "/opt/ml/processing/model"),
                         ("test", prepared, "/opt/ml/processing/test")],
                        [("evaluation", "/opt/ml/processing/evaluation")],
                        ["--model-dir", "/opt/ml/processing/model", "--output-dir", "/opt/ml/processing/evaluation"],
                        property_files=[{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                                         "FilePath": "evaluation.json"}]),
            {
                "Name": "CheckQuality", "Type": "Condition",
                "Arguments": {
                    "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": accuracy,
                                    "RightValue": {"Get": "Parameters.QualityThreshold"}}],
                    "IfSteps": [{
                        "Name": "Register-RegisterModel", "Type": "RegisterModel",
                        "Arguments": {
                            "ModelPackageGroupName": "fake-group",
                            "ModelMetrics": {"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                "S3Uri": {"Std:Join": {"On": "/", "Values": [
                                    {"Get": "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"},
                                    "evaluation.json"]}}}}},
                            "InferenceSpecification": {"Containers": [{"Image": "serving-img", "ModelDataUrl": best_model}],
                                                       "SupportedContentTypes": ["application/json"],
                                                       "SupportedResponseMIMETypes": ["application/json"]},
                            "ModelApprovalStatus": {"Get": "Parameters.ModelApprovalStatus"},
                            # Lineage and metrics travel in the request itself, as the real definition does.
                            "CustomerMetadataProperties": {
                                "execution-id": {"Get": "Execution.PipelineExecutionId"},
                                "data-hash": {"Std:JsonGet": {
                                    "PropertyFile": {"Get": "Steps.Preprocess.PropertyFiles.PreprocessReport"},
                                    "Path": "data_sha256"}},
                                "metric.accuracy": {"Std:Join": {"On": "", "Values": [accuracy]}},
                            },
                        },
                    }],
                    "ElseSteps": [{
                        "Name": "Fail", "Type": "Fail",
                        "Arguments": {"ErrorMessage": {"Std:Join": {"On": " ", "Values": [
                            "accuracy", accuracy, "is below the threshold", {"Get": "Parameters.QualityThreshold"}]}}},
                    }],
                },
            },
        ],
    }


def stage_sourcedir(store: ArtifactStore) -> None:
    """The training code as SageMaker script mode gets it: a sourcedir.tar.gz."""
    import io
    import tarfile

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        body = textwrap.dedent(TRAIN).encode()
        info = tarfile.TarInfo("steps/train.py")
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    store.put_bytes(f"s3://{BUCKET}/p/code/sourcedir.tar.gz", raw.getvalue())
