"""The approved-pointer hook's Lambda handler against moto's SageMaker and S3, with decisions made as the Studio
console makes them: UpdateModelPackage straight to SageMaker, not through ModelRegistry (so nothing else writes the
pointer). Events are the documented shape (tests/infra/sample_events.py); the handler builds its own boto3 clients
from the environment, as in Lambda.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

import boto3
import pytest
from moto import mock_aws

from pipelines.registry import SageMakerRegistry
from pipelines.registry.approved_pointer import approved_prefix_uri
from pipelines.registry.aws_pointer_handler import HookConfig, handle, handler, sync_until_stable
from pipelines.registry.model import RegistryError
from tests.infra import sample_events
from tests.infra.cfn_templates import ACCOUNT_ID, REGION

GROUP = "hs-mlops-dev-classifier"
BUCKET = "hs-mlops-dev-artifacts"
PREFIX = "hs-code"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.20-cpu"
POINTER = f"{PREFIX}/approved/{GROUP}/"


def model_tar(content: str) -> bytes:
    payload = content.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


class Account:
    """moto's SageMaker + S3 with the project's group and bucket; registers as the pipeline's Register step does."""

    def __init__(self):
        self.sagemaker = boto3.client("sagemaker", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        self.s3.create_bucket(Bucket=BUCKET)
        self.models: dict[int, bytes] = {}

    def register(self, run: str) -> int:
        body = model_tar(json.dumps({"run": run}))
        key = f"{PREFIX}/pipelines-{run}/Tune/output/model.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        version = SageMakerRegistry(client=self.sagemaker).register(  # no bucket: writes no pointer
            GROUP, f"s3://{BUCKET}/{key}", image_uri=IMAGE, execution_id=run,
            checksum=hashlib.sha256(body).hexdigest(), metrics={"accuracy": 0.5}).version
        self.models[version] = body
        return version

    def console_decision(self, version: int, status: str) -> dict:
        """UpdateModelPackage as the console sends it; returns the event SageMaker emits for it."""
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{GROUP}/{version}"
        properties = self.sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
        # SageMaker merges CustomerMetadataProperties, moto replaces them: send them back, as the registry does.
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status,
                                            ApprovalDescription="alice: looked at it in Studio",
                                            CustomerMetadataProperties=properties)
        return sample_events.model_package_console_decision(GROUP, status, version)

    def pointer(self) -> dict:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=POINTER + "approved.json")["Body"].read())

    def copied_model(self) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=POINTER + "model.tar.gz")["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None


@pytest.fixture
def account(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
                        "ARTIFACT_BUCKET": BUCKET, "BASE_JOB_PREFIX": PREFIX, "GROUP": GROUP}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield Account()


def test_a_console_approval_points_the_gate_at_that_version(account):
    account.register("exec-1")
    version = account.register("exec-2")
    result = handler(account.console_decision(version, "Approved"), None)

    pointer = account.pointer()["model"]
    assert (pointer["version"], pointer["group"], pointer["file"]) == (2, GROUP, "model.tar.gz")
    assert pointer["arn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{GROUP}/2"
    assert pointer["checksum"] == hashlib.sha256(account.models[2]).hexdigest()
    assert account.copied_model() == account.models[2]  # the copy Evaluate reads is version 2's artifact
    assert result["model"] == pointer and result["event"]["status"] == "Approved"
    assert result["pointer"] == approved_prefix_uri(BUCKET, PREFIX, GROUP)


def test_rejecting_the_approved_version_moves_the_pointer_back_then_to_none(account):
    for run in ("exec-1", "exec-2", "exec-3"):
        account.register(run)
    handler(account.console_decision(1, "Approved"), None)
    handler(account.console_decision(3, "Approved"), None)
    assert account.pointer()["model"]["version"] == 3

    handler(account.console_decision(3, "Rejected"), None)  # back to the previous approved one, not to 2
    assert account.pointer()["model"]["version"] == 1
    assert account.copied_model() == account.models[1]

    handler(account.console_decision(1, "Rejected"), None)
    assert account.pointer() == {"model": None}
    assert account.copied_model() is None  # no stale model left beside a null pointer


def test_duplicate_and_late_events_leave_the_registry_s_answer(account):
    account.register("exec-1")
    account.register("exec-2")
    approve_1 = account.console_decision(1, "Approved")
    approve_2 = account.console_decision(2, "Approved")
    reject_2 = account.console_decision(2, "Rejected")
    # Delivered out of order and twice: each one recomputes from the registry, where 1 is the approved one.
    for event in (reject_2, approve_2, approve_2, approve_1):
        assert handler(event, None)["model"]["version"] == 1
    assert account.copied_model() == account.models[1]


def test_a_pending_registration_event_syncs_without_changing_the_pointer(account):
    account.register("exec-1")
    handler(account.console_decision(1, "Approved"), None)
    account.register("exec-2")
    handler(sample_events.model_package_state_change(GROUP, "PendingManualApproval", version=2), None)
    assert account.pointer()["model"]["version"] == 1


def test_another_group_s_event_changes_nothing(account):
    account.register("exec-1")
    result = handler(sample_events.model_package_state_change("someone-elses-model", "Approved", version=1), None)
    assert "someone-elses-model" in result["skipped"]
    assert account.s3.list_objects_v2(Bucket=BUCKET, Prefix=POINTER)["KeyCount"] == 0


def test_a_manual_invoke_without_an_event_syncs(account):
    account.register("exec-1")
    account.console_decision(1, "Approved")
    assert handler({}, None)["model"]["version"] == 1


def test_a_decision_during_the_sync_is_caught_by_the_check_after_it(account):
    """Approve 2 while the invocation for 1's approval is syncing: its first write names 1, the registry says 2."""
    account.register("exec-1")
    account.register("exec-2")
    account.console_decision(1, "Approved")
    registry = SageMakerRegistry(artifact_bucket=BUCKET, base_job_prefix=PREFIX, region=REGION)
    writes = []
    original = registry.sync_approved_pointer

    def sync_then_someone_approves(group):
        document = original(group)
        writes.append(document["model"]["version"])
        if len(writes) == 1:
            account.console_decision(2, "Approved")
        return document

    registry.sync_approved_pointer = sync_then_someone_approves
    config = HookConfig.from_environment()
    assert handle(sample_events.model_package_state_change(GROUP, "Approved", version=1), registry, config)[
        "model"]["version"] == 2
    assert writes == [1, 2] and account.pointer()["model"]["version"] == 2


def test_a_registry_that_keeps_changing_is_an_error_not_a_wrong_pointer(account):
    account.register("exec-1")
    account.register("exec-2")
    registry = SageMakerRegistry(artifact_bucket=BUCKET, base_job_prefix=PREFIX, region=REGION)
    flips = iter(["Approved", "Rejected"] * 3)
    original = registry.sync_approved_pointer

    def sync_then_flip(group):
        document = original(group)
        account.console_decision(1 if document["model"] is None else document["model"]["version"], next(flips))
        return document

    registry.sync_approved_pointer = sync_then_flip
    with pytest.raises(RegistryError, match="kept changing during 3 syncs"):
        sync_until_stable(registry, GROUP)


def test_missing_environment_is_named(monkeypatch):
    monkeypatch.delenv("GROUP", raising=False)
    monkeypatch.setenv("ARTIFACT_BUCKET", BUCKET)
    monkeypatch.setenv("BASE_JOB_PREFIX", " ")
    with pytest.raises(RegistryError, match="BASE_JOB_PREFIX, GROUP"):
        handler({}, None)
