"""Staging the bundled data: the vague terms travel to reference/ (beside the nomenclature), never to data/, and the
snapshot of the staged folders hashes them."""
from __future__ import annotations

import os

import boto3
import pytest
from moto import mock_aws

from pipelines.hs_code.staging import stage_bundled_data
from steps.hsml.preparation import vague_terms_path
from steps.hsml.snapshot import take_snapshot


@pytest.fixture
def s3():
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-2")
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-2")
        client.create_bucket(Bucket="hs-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
        yield client


def test_vague_terms_are_staged_beside_the_nomenclature_and_hashed_by_the_snapshot(s3, tmp_path):
    written = stage_bundled_data(s3, "hs-bucket", "hs-code")
    assert "s3://hs-bucket/hs-code/reference/hmrc_vague_terms.csv" in written
    assert not [uri for uri in written if "/data/" in uri and "vague" in uri]  # not read as labelled rows
    local = {}
    for uri in written:
        key = uri.removeprefix("s3://hs-bucket/")
        path = tmp_path / "staged" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket="hs-bucket", Key=key)["Body"].read())
        local[key] = path
    sources = {"data": tmp_path / "staged/hs-code/data", "reference": tmp_path / "staged/hs-code/reference"}
    manifest = take_snapshot(sources, tmp_path / "snapshots", tmp_path / "manifest")
    assert "reference/hmrc_vague_terms.csv" in [f["path"] for f in manifest["files"]]
    copied = tmp_path / "snapshots" / manifest["hash"] / "reference"
    assert vague_terms_path(copied).is_file()  # where preprocess looks for it
    (sources["reference"] / "hmrc_vague_terms.csv").write_text("gift\n")
    assert take_snapshot(sources, tmp_path / "s2", tmp_path / "m2")["hash"] != manifest["hash"]
