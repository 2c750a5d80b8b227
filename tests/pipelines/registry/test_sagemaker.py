"""The SageMaker back end against moto's SageMaker (model package groups, packages, update, list, describe)."""
import boto3
import pytest
from moto import mock_aws

from pipelines.registry import (
    APPROVED,
    PENDING,
    REJECTED,
    IllegalTransition,
    RegistryError,
    SageMakerRegistry,
    VersionNotFound,
    resolve_model_uri,
)

GROUP = "hs-code-classifier"
REGION = "eu-west-1"
IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.20-cpu"
EVALUATION = {"multiclass_classification_metrics": {"accuracy": {"value": 0.81}, "weighted_f1": {"value": 0.77}}}


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model_package_group(ModelPackageGroupName=GROUP)  # the pipeline's job, not the registry's
        yield SageMakerRegistry(client=client)


def _register(registry, run, **kwargs):
    return registry.register(GROUP, f"s3://bucket/{run}/model.tar.gz", metrics=EVALUATION, image_uri=IMAGE,
                             execution_id=run, data_hash=f"hash-{run}", checksum="ab" * 32, **kwargs)


def test_register_keeps_artifact_metrics_and_lineage(registry):
    version = _register(registry, "exec-1", description="textcnn",
                        metrics_uri="s3://bucket/exec-1/evaluation.json")
    assert version.arn == f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/1"
    assert (version.group, version.version, version.status) == (GROUP, 1, PENDING)
    assert version.model_data_url == "s3://bucket/exec-1/model.tar.gz"
    assert version.metrics == {"accuracy": 0.81, "weighted_f1": 0.77}
    assert (version.execution_id, version.data_hash, version.checksum) == ("exec-1", "hash-exec-1", "ab" * 32)
    assert (version.image_uri, version.description) == (IMAGE, "textcnn")

    package = registry.client.describe_model_package(ModelPackageName=version.arn)
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == "s3://bucket/exec-1/evaluation.json"
    assert package["MetadataProperties"]["GeneratedBy"] == "exec-1"


def test_list_describe_and_idempotent_register(registry):
    first = _register(registry, "exec-1")
    second = _register(registry, "exec-2")
    assert _register(registry, "exec-1").arn == first.arn  # the retried execution gets its version back
    assert [v.version for v in registry.list_versions(GROUP)] == [1, 2]
    assert registry.describe("2").arn == second.arn
    assert registry.describe(first.arn).execution_id == "exec-1"
    with pytest.raises(VersionNotFound, match="no version 5"):
        registry.describe("5")
    with pytest.raises(VersionNotFound):
        registry.describe(f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/9")


def test_decisions_follow_the_same_state_machine(registry):
    version = _register(registry, "exec-1")
    approved = registry.approve(version.arn, by="alice", reason="best so far")
    assert approved.status == APPROVED
    assert approved.approval_description == "alice: best so far"
    assert (approved.history[-1].by, approved.history[-1].reason) == ("alice", "best so far")
    assert approved.execution_id == "exec-1"  # lineage survives the update
    assert approved.metrics["accuracy"] == 0.81

    with pytest.raises(IllegalTransition, match="already Approved; from Approved it can only go to Rejected"):
        registry.approve("1", by="bob", reason="")
    assert registry.reject("1", by="bob", reason="bias found").status == REJECTED
    with pytest.raises(IllegalTransition, match="cannot go from Rejected to PendingManualApproval"):
        registry.set_status("1", PENDING, "bob", "")


def test_latest_approved_and_resolve(registry):
    for run in ("exec-1", "exec-2", "exec-3"):
        _register(registry, run)
    assert registry.latest_approved(GROUP) is None
    registry.approve("1", by="a", reason="")
    registry.approve("2", by="a", reason="")
    assert registry.latest_approved(GROUP).version == 2
    assert resolve_model_uri("latest-approved", registry=registry) == "s3://bucket/exec-2/model.tar.gz"


def test_register_needs_image_and_s3_artifact(registry):
    with pytest.raises(RegistryError, match="needs image_uri"):
        registry.register(GROUP, "s3://bucket/m/model.tar.gz")
    with pytest.raises(RegistryError, match="needs the model artifact in S3"):
        registry.register(GROUP, "/tmp/model.tar.gz", image_uri=IMAGE)
