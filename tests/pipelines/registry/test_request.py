"""register_package: both back ends register from one resolved CreateModelPackage request."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from pipelines.registry import LocalRegistry, RegistryError, SageMakerRegistry
from pipelines.registry.request import registration_fields
from tests.pipelines.registry.conftest import GROUP

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.20-cpu"


def pipeline_request(model_data_url: str, execution_id: str = "exec-1", **properties: str) -> dict:
    """Shaped like the Register step's arguments once resolved (see pipelines/hs_code/pipeline.py)."""
    return {
        "ModelPackageGroupName": GROUP,
        "ModelApprovalStatus": "PendingManualApproval",
        "ModelPackageDescription": f"HS6 classifier from pipeline execution {execution_id}",
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["application/json", "text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
            "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        },
        "ModelMetrics": {"ModelQuality": {"Statistics": {
            "ContentType": "application/json", "S3Uri": f"s3://b/{execution_id}/evaluation/evaluation.json"}}},
        "CustomerMetadataProperties": {"execution-id": execution_id, "data-hash": "d" * 64,
                                       "metric.accuracy": "0.41", "metric.macro_f1": "0.2", **properties},
        "MetadataProperties": {"GeneratedBy": f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/{execution_id}"},
    }


def test_fields_come_from_the_request_alone():
    fields = registration_fields(pipeline_request("s3://b/m/model.tar.gz", **{"checksum-sha256": "c" * 64}))
    assert fields == {
        "group": GROUP, "model_data_url": "s3://b/m/model.tar.gz", "metrics": {"accuracy": 0.41, "macro_f1": 0.2},
        "approval_status": "PendingManualApproval", "execution_id": "exec-1", "data_hash": "d" * 64,
        "checksum": "c" * 64, "description": "HS6 classifier from pipeline execution exec-1", "image_uri": IMAGE,
        "metrics_uri": "s3://b/exec-1/evaluation/evaluation.json",
    }


@pytest.mark.parametrize("broken, message", [
    (lambda r: r.pop("ModelPackageGroupName"), "needs ModelPackageGroupName"),
    (lambda r: r["InferenceSpecification"].update(Containers=[]), r"Containers\[0\].ModelDataUrl"),
    (lambda r: r["CustomerMetadataProperties"].update({"metric.accuracy": ""}), "not a number"),
    (lambda r: r["CustomerMetadataProperties"].update({"metric.accuracy": "nan"}), "only finite numbers"),
])
def test_a_request_the_registry_cannot_read_is_refused_with_what_is_wrong(broken, message):
    request = pipeline_request("s3://b/m/model.tar.gz")
    broken(request)
    with pytest.raises(RegistryError, match=message):
        registration_fields(request)


def test_local_register_package_checks_the_artifact_and_is_idempotent_per_execution(home, stored_model):
    registry = LocalRegistry()
    url = stored_model("exec-1")
    first = registry.register_package(pipeline_request(url))
    assert (first.version, first.execution_id, first.data_hash, first.metrics) == (
        1, "exec-1", "d" * 64, {"accuracy": 0.41, "macro_f1": 0.2})
    assert registry.register_package(pipeline_request(url)).arn == first.arn  # a retried execution
    with pytest.raises(RegistryError, match="checksum mismatch"):
        registry.register_package(pipeline_request(stored_model("exec-2"), "exec-2", **{"checksum-sha256": "0" * 64}))


def test_sagemaker_register_package_sends_the_request_as_it_is(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        registry = SageMakerRegistry(client=client)
        version = registry.register_package(pipeline_request("s3://b/m/model.tar.gz"))
        assert registry.register_package(pipeline_request("s3://b/m/model.tar.gz")).arn == version.arn
        package = client.describe_model_package(ModelPackageName=version.arn)
        assert len(registry.list_versions(GROUP)) == 1
    assert package["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == ["ml.m5.large"]
    assert package["MetadataProperties"]["GeneratedBy"].endswith("/execution/exec-1")
    assert (version.execution_id, version.metrics) == ("exec-1", {"accuracy": 0.41, "macro_f1": 0.2})
