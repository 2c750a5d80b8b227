"""Builds the pipeline definition with no AWS account: inside an in-process moto mock.

The SDK talks to S3 while it builds (code uploads, default bucket checks), so offline those calls
go to moto. What landed in the mock buckets is returned too: the local runner copies it into its
artifact store, so `s3://` URIs in the definition resolve to real files on disk.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

from pipelines import settings

OFFLINE_REGION = "us-east-1"
OFFLINE_ACCOUNT = "123456789012"  # moto's default account
OFFLINE_ROLE_ARN = f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/hs-code-pipeline-offline"
OFFLINE_BUCKET = "hscode-artifacts"
DEFAULT_BASE_JOB_PREFIX = "hs-code"

# Environment set only while building: fake credentials for moto, no real endpoint, no role check
# (moto lacks iam:SimulatePrincipalPolicy).
_OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
_CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER")


@dataclass
class OfflineBuild:
    definition: str  # the pipeline definition JSON, exactly as `upsert` would send it
    objects: dict[str, bytes] = field(default_factory=dict)  # every object in the mock S3: {"s3://b/k": body}
    region: str = OFFLINE_REGION
    role_arn: str = OFFLINE_ROLE_ARN
    bucket: str = OFFLINE_BUCKET


@contextmanager
def _offline_environment(region: str):
    saved = {name: os.environ.get(name) for name in (*_OFFLINE_ENV, *_CLEARED_ENV, "AWS_DEFAULT_REGION")}
    os.environ.update(_OFFLINE_ENV)
    os.environ["AWS_DEFAULT_REGION"] = region
    for name in _CLEARED_ENV:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_offline(
    *,
    region: str = OFFLINE_REGION,
    role: str = OFFLINE_ROLE_ARN,
    default_bucket: str = OFFLINE_BUCKET,
    model_package_group_name: str = settings.DEFAULT_MODEL_PACKAGE_GROUP,
    pipeline_name: str = settings.DEFAULT_PIPELINE_NAME,
    base_job_prefix: str = DEFAULT_BASE_JOB_PREFIX,
    stage_data: bool = True,
    **pipeline_options,
) -> OfflineBuild:
    """Builds the definition in a moto mock. `stage_data` also puts the bundled csv files at the
    default InputDataUri / ReferenceDataUri, so a runner has everything the defaults point at."""
    with _offline_environment(region):
        import boto3
        from moto import mock_aws

        with mock_aws():
            boto_session = boto3.Session(region_name=region)
            s3 = boto_session.client("s3")
            if region == "us-east-1":
                s3.create_bucket(Bucket=default_bucket)
            else:
                s3.create_bucket(Bucket=default_bucket, CreateBucketConfiguration={"LocationConstraint": region})
            from sagemaker.core.workflow.pipeline_context import PipelineSession

            from pipelines.hs_code.pipeline import get_pipeline
            from pipelines.hs_code.staging import stage_bundled_data

            if stage_data:
                stage_bundled_data(s3, default_bucket, base_job_prefix)
            session = PipelineSession(boto_session=boto_session, default_bucket=default_bucket)
            # Ignore any SDK defaults file on this machine (KMS keys, tags...): the same build everywhere.
            # (Opting out of telemetry through a config dict instead would re-validate it on every lookup: 15 s.)
            session.sagemaker_config = {}
            with _no_telemetry():
                pipeline = get_pipeline(
                    region=region, role=role, default_bucket=default_bucket,
                    model_package_group_name=model_package_group_name, pipeline_name=pipeline_name,
                    base_job_prefix=base_job_prefix, sagemaker_session=session, **pipeline_options,
                )
                definition = pipeline.definition()
            objects = _all_objects(s3)
    return OfflineBuild(definition=definition, objects=objects, region=region, role_arn=role, bucket=default_bucket)


@contextmanager
def _no_telemetry():
    """The SDK sends a usage ping over HTTPS from a background thread; offline means no network."""
    from unittest import mock

    from sagemaker.core.telemetry import telemetry_logging

    with mock.patch.object(telemetry_logging, "_send_telemetry_request", lambda *args, **kwargs: None):
        yield


def build_definition_offline(**kwargs) -> str:
    """The definition JSON, built with no credentials (see `build_offline` for the arguments)."""
    return build_offline(**kwargs).definition


def _all_objects(s3) -> dict[str, bytes]:
    objects = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects
