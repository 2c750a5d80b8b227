"""Every decision that changes the approved model rewrites the approved-model pointer the quality gate reads,
in both back ends: the local store here, S3 (moto) for SageMaker."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from pipelines.registry import LocalRegistry, SageMakerRegistry
from pipelines.registry.approved_pointer import APPROVED_FILE, MODEL_FILE, approved_prefix_uri
from steps.hsml.hashing import sha256_file
from tests.pipelines.registry.conftest import GROUP

LOCAL_PREFIX = approved_prefix_uri("hscode-artifacts", "hs-code", GROUP)


def _local_pointer(home) -> tuple[dict, object]:
    root = home / "store" / LOCAL_PREFIX[len("s3://"):]
    return json.loads((root / APPROVED_FILE).read_text()), root / MODEL_FILE


def test_local_approval_writes_the_pointer_and_a_copy_of_the_model(home, stored_model):
    registry = LocalRegistry(home=home)
    first = registry.register(GROUP, stored_model("a"))
    second = registry.register(GROUP, stored_model("b"))
    assert not (home / "store" / LOCAL_PREFIX[len("s3://"):]).exists()  # nothing approved, nothing written yet

    registry.approve(first.arn, by="alice")
    pointer, model = _local_pointer(home)
    assert pointer["model"]["arn"] == first.arn and pointer["model"]["checksum"] == first.checksum
    assert sha256_file(model) == first.checksum

    registry.approve(second.arn, by="alice")  # the newest approved version is the one the gate compares with
    pointer, model = _local_pointer(home)
    assert (pointer["model"]["version"], sha256_file(model)) == (2, second.checksum)

    registry.reject(second.arn, by="bob", reason="regressed on FPO")  # back to version 1
    pointer, model = _local_pointer(home)
    assert (pointer["model"]["version"], sha256_file(model)) == (1, first.checksum)

    registry.reject(first.arn, by="bob")
    pointer, model = _local_pointer(home)
    assert pointer == {"model": None} and not model.exists()


def test_local_registration_as_approved_writes_the_pointer(home, stored_model):
    registry = LocalRegistry(home=home)
    version = registry.register(GROUP, stored_model("a"), approval_status="Approved")
    assert _local_pointer(home)[0]["model"]["arn"] == version.arn


def test_seed_writes_null_only_where_no_pointer_is(home, stored_model):
    registry = LocalRegistry(home=home)
    assert registry.approved_pointer.seed(GROUP) is True
    assert _local_pointer(home)[0] == {"model": None}
    registry.approve(registry.register(GROUP, stored_model("a")).arn)
    assert registry.approved_pointer.seed(GROUP) is False  # an approval is never overwritten by a seed
    assert _local_pointer(home)[0]["model"]["version"] == 1


REGION = "eu-west-1"
BUCKET = "hs-mlops-dev-artifacts"
IMAGE = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.20-cpu"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sagemaker, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield sagemaker, s3


def test_sagemaker_approval_and_rejection_rewrite_the_pointer_in_s3(aws):
    sagemaker, s3 = aws
    registry = SageMakerRegistry(client=sagemaker, artifact_bucket=BUCKET, s3_client=s3)
    for run in ("exec-1", "exec-2"):
        s3.put_object(Bucket=BUCKET, Key=f"hs-code/training/{run}/output/model.tar.gz", Body=run.encode())
    first, second = (registry.register(GROUP, f"s3://{BUCKET}/hs-code/training/{run}/output/model.tar.gz",
                                       image_uri=IMAGE, execution_id=run, checksum="ab" * 32)
                     for run in ("exec-1", "exec-2"))
    prefix = f"hs-code/approved/{GROUP}/"

    def pointer() -> tuple[dict, bytes | None]:
        document = json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + APPROVED_FILE)["Body"].read())
        try:
            model = s3.get_object(Bucket=BUCKET, Key=prefix + MODEL_FILE)["Body"].read()
        except s3.exceptions.NoSuchKey:
            model = None
        return document, model

    registry.approve(second.arn, by="alice")
    document, model = pointer()
    assert document["model"]["arn"] == second.arn and model == b"exec-2"
    registry.approve(first.arn, by="alice")  # an older version approved later: the newest approved still wins
    assert pointer()[0]["model"]["arn"] == second.arn
    registry.reject(second.arn, by="bob")
    assert pointer() == ({"model": {**pointer()[0]["model"], "arn": first.arn}}, b"exec-1")
    registry.reject(first.arn, by="bob")
    assert pointer() == ({"model": None}, None)


def test_sagemaker_registry_without_a_bucket_writes_no_pointer(aws):
    sagemaker, s3 = aws
    registry = SageMakerRegistry(client=sagemaker)
    version = registry.register(GROUP, f"s3://{BUCKET}/m.tar.gz", image_uri=IMAGE)
    assert registry.approve(version.arn).status == "Approved"
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_cli_sync_approved_rewrites_the_pointer_from_the_registry(home, stored_model, capsys):
    from pipelines.cli import main

    registry = LocalRegistry(home=home)
    version = registry.register(GROUP, stored_model("a"))
    registry.approve(version.arn)
    (home / "store" / LOCAL_PREFIX[len("s3://"):] / APPROVED_FILE).write_text('{"model": null}')  # gone stale
    assert main(["registry", "sync-approved"]) == 0
    assert capsys.readouterr().out.strip() == (f"approved-model pointer {LOCAL_PREFIX}: version 1 ({version.arn})")
    assert _local_pointer(home)[0]["model"]["arn"] == version.arn
    assert main(["registry", "sync-approved", "--backend", "sagemaker", "--region", REGION]) == 2  # no bucket
    assert "give --bucket" in capsys.readouterr().err
