"""Builds any pipeline module's definition with no AWS account: inside an in-process moto mock.

The SDK talks to S3 while it builds (code uploads, default bucket checks), so offline those calls
go to moto. What landed in the mock buckets is returned too: the local runner copies it into its
artifact store, so `s3://` URIs in the definition resolve to real files on disk.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field

from pipelines.local.pipeline_module import PipelineModule

OFFLINE_REGION = "us-east-1"
OFFLINE_ACCOUNT = "123456789012"  # moto's default account
OFFLINE_BUCKET = "hscode-artifacts"  # stands in for the project's $HSCODE_ARTIFACT_BUCKET

# Environment set only while building: fake credentials for moto, no real endpoint, no role check
# (moto lacks iam:SimulatePrincipalPolicy).
_OFFLINE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "SAGEMAKER_VALIDATE_ROLE": "false",
}
_CLEARED_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SAGEMAKER")


def offline_role_arn(pipeline_name: str) -> str:
    """A stand-in for the role the pipeline runs as, named after the pipeline (the same every build)."""
    return f"arn:aws:iam::{OFFLINE_ACCOUNT}:role/{pipeline_name}-offline"


@dataclass
class OfflineBuild:
    definition: str  # the pipeline definition JSON, exactly as `upsert` would send it
    pipeline_name: str
    objects: dict[str, bytes] = field(default_factory=dict)  # every object in the mock S3: {"s3://b/k": body}
    region: str = OFFLINE_REGION
    role_arn: str = ""
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
    module: PipelineModule | str,
    *,
    region: str = OFFLINE_REGION,
    role: str | None = None,
    default_bucket: str = OFFLINE_BUCKET,
    model_package_group_name: str | None = None,
    pipeline_name: str | None = None,
    base_job_prefix: str | None = None,
    stage_data: bool = True,
    **pipeline_options,
) -> OfflineBuild:
    """Builds the module's definition in a moto mock. Names left None take get_pipeline()'s defaults.

    `stage_data` also runs the module's stage_default_data hook, so a runner has everything the
    default parameters point at.
    """
    if isinstance(module, str):
        module = PipelineModule.load(module)
    names = module.naming(pipeline_name=pipeline_name, model_package_group_name=model_package_group_name,
                          base_job_prefix=base_job_prefix)
    role = role or offline_role_arn(names["pipeline_name"])
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

            if stage_data:
                module.stage_default_data(s3, default_bucket, names["base_job_prefix"])
            session = PipelineSession(boto_session=boto_session, default_bucket=default_bucket)
            # Ignore any SDK defaults file on this machine (KMS keys, tags...): the same build everywhere.
            # (Opting out of telemetry through a config dict instead would re-validate it on every lookup: 15 s.)
            session.sagemaker_config = {}
            with _no_telemetry():
                pipeline = module.get_pipeline(region=region, role=role, default_bucket=default_bucket,
                                               sagemaker_session=session, **names, **pipeline_options)
                definition = pipeline.definition()
            objects = _all_objects(s3)
    return OfflineBuild(definition=definition, pipeline_name=names["pipeline_name"], objects=objects, region=region,
                        role_arn=role, bucket=default_bucket)


@contextmanager
def _no_telemetry():
    """The SDK sends a usage ping over HTTPS from a background thread; offline means no network."""
    from unittest import mock

    from sagemaker.core.telemetry import telemetry_logging

    with mock.patch.object(telemetry_logging, "_send_telemetry_request", lambda *args, **kwargs: None):
        yield


def _all_objects(s3) -> dict[str, bytes]:
    objects = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                objects[f"s3://{bucket}/{item['Key']}"] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects
