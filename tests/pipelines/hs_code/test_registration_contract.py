"""The definition is the only registration contract: the Register step's CreateModelPackage request,
resolved the way SageMaker (and the local runner) resolve it, carries the metrics, execution id, data
hash and checksum, and both registry back ends read the same version out of it."""
from __future__ import annotations

import hashlib

import boto3
import pytest
from moto import mock_aws

from pipelines.hs_code.pipeline import GENERALISATION_METRICS, REGISTERED_METRICS
from pipelines.local.expressions import Resolver
from pipelines.registry import LocalRegistry, RegistryError, SageMakerRegistry, flatten_metrics
from steps.hsml.generalisation import probe_report
from steps.hsml.metrics import model_quality_report

EXECUTION_ID = "k3x9abc0def1"
SNAPSHOT_HASH = "5f" * 32
TRIAL = "hs-code-tune-001-3c2d1a"
MODEL_BYTES = b"a model.tar.gz stand-in: only its bytes (and so its sha256) matter here"


def evaluation_report() -> dict:
    """A real evaluation.json (steps/hsml/metrics.py), so every registered metric's path must exist in it."""
    truth = ["610910", "610910", "611011", "620342", "620342", "640399"]
    predictions = [[("610910", 0.8), ("611011", 0.1)], [("611011", 0.6), ("610910", 0.3)],
                   [("611011", 0.7), ("610910", 0.2)], [("620342", 0.9), ("620343", 0.05)],
                   [("620462", 0.5), ("620342", 0.4)], [("640399", 0.95), ("640391", 0.03)]]
    return model_quality_report(truth, predictions)


TRUTH = ["610910", "610910", "611011", "620342", "620342", "640399"]


def generalisation_report() -> dict:
    """A real generalisation.json (steps/hsml/generalisation.py) of a model that answers 610910 to long text."""
    return probe_report(lambda texts: ["610910"] * len(texts), ["t-shirt", "tee", "jumper", "trousers",
                                                                   "slacks", "boots"], TRUTH)


@pytest.fixture
def resolved_request(steps_by_name, definition):
    """The Register step's arguments resolved against fake, real-shaped finished steps."""
    files = {
        ("SnapshotData", "DataSnapshot"): {"hash": SNAPSHOT_HASH, "files": [], "rows": {"data": 6}},
        ("Evaluate", "EvaluationReport"): evaluation_report(),
        ("Evaluate", "EvaluationLineage"): {"model_sha256": hashlib.sha256(MODEL_BYTES).hexdigest(), "test_rows": 6},
        ("Evaluate", "GeneralisationReport"): generalisation_report(),
    }
    evaluation_prefix = f"s3://hscode-artifacts/hs-code/{EXECUTION_ID}/evaluation"
    properties = {
        "Tune": {"TrainingJobSummaries": [{"TrainingJobName": TRIAL}], "BestTrainingJob": {"TrainingJobName": TRIAL}},
        "Evaluate": {"ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "evaluation", "S3Output": {"S3Uri": evaluation_prefix}}]}},
    }
    parameters = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    variables = {"PipelineExecutionId": EXECUTION_ID,
                 "PipelineExecutionArn": f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/hs-code-pipeline/"
                                         f"execution/{EXECUTION_ID}"}
    resolver = Resolver(parameters, variables, properties.__getitem__, lambda step, name: files[(step, name)])
    return resolver.resolve(steps_by_name["Register"]["Arguments"])


def model_key(request) -> str:
    url = request["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert url == f"s3://hscode-artifacts/hs-code/training/{TRIAL}/output/model.tar.gz"
    return url.removeprefix("s3://")


def test_the_resolved_request_holds_lineage_and_metrics_as_strings(resolved_request):
    properties = resolved_request["CustomerMetadataProperties"]
    assert properties["execution-id"] == EXECUTION_ID
    assert properties["data-hash"] == SNAPSHOT_HASH
    assert properties["checksum-sha256"] == hashlib.sha256(MODEL_BYTES).hexdigest()
    assert {k for k in properties if k.startswith("metric.")} == {
        f"metric.{name}" for name in (*REGISTERED_METRICS, *GENERALISATION_METRICS)}
    assert float(properties["metric.probe_commonest_share"]) == 1.0  # every probe answered 610910
    assert float(properties["metric.probe_hs6_accuracy"]) == pytest.approx(2 / 6)
    assert all(isinstance(value, str) and value for value in properties.values())  # SageMaker takes strings only
    assert resolved_request["MetadataProperties"]["GeneratedBy"].endswith(f"/execution/{EXECUTION_ID}")
    assert resolved_request["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith(
        f"/{EXECUTION_ID}/evaluation/evaluation.json")


def test_both_back_ends_read_the_same_version_from_the_request(resolved_request, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    expected_metrics = {name: value for name, value in flatten_metrics(evaluation_report()).items()
                        if name in REGISTERED_METRICS}
    expected_metrics.update({name: generalisation_report()[path] for name, path in GENERALISATION_METRICS.items()})
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=resolved_request["ModelPackageGroupName"])
        # What SageMaker Pipelines does with the step: CreateModelPackage with the resolved arguments, as they are.
        arn = client.create_model_package(**resolved_request)["ModelPackageArn"]
        on_sagemaker = SageMakerRegistry(client=client).describe(arn)

    home = tmp_path / "home"
    (home / "store" / model_key(resolved_request)).parent.mkdir(parents=True)
    (home / "store" / model_key(resolved_request)).write_bytes(MODEL_BYTES)
    local = LocalRegistry(home=home).register_package(resolved_request)

    for version in (on_sagemaker, local):
        assert version.metrics == pytest.approx(expected_metrics)
        assert (version.execution_id, version.data_hash) == (EXECUTION_ID, SNAPSHOT_HASH)
        assert version.checksum == hashlib.sha256(MODEL_BYTES).hexdigest()
    fields = ("group", "version", "status", "model_data_url", "checksum", "metrics", "execution_id", "data_hash",
              "description", "image_uri")
    assert {f: getattr(local, f) for f in fields} == {f: getattr(on_sagemaker, f) for f in fields}


def test_the_local_registry_refuses_an_artifact_that_is_not_the_one_evaluated(resolved_request, tmp_path):
    home = tmp_path / "home"
    (home / "store" / model_key(resolved_request)).parent.mkdir(parents=True)
    (home / "store" / model_key(resolved_request)).write_bytes(MODEL_BYTES + b" changed after evaluation")
    with pytest.raises(RegistryError, match="checksum mismatch"):
        LocalRegistry(home=home).register_package(resolved_request)
