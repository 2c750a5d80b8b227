"""The SageMaker Model Registry behind the same interface, through boto3.

Where things go in SageMaker's model (the contract is pipelines/registry/request.py; the pipeline's
Register step writes the same request, so pipeline-registered versions describe the same way):
- the artifact: InferenceSpecification.Containers[0].ModelDataUrl (with the serving image);
- metrics: CustomerMetadataProperties "metric.<name>" (so list/describe show them without reading S3),
  and ModelMetrics.ModelQuality.Statistics when an evaluation.json URI (`metrics_uri`) is given;
- lineage: CustomerMetadataProperties "execution-id", "data-hash", "checksum-sha256", and
  MetadataProperties.GeneratedBy (the execution id here; the pipeline writes its execution ARN);
- a decision: ModelApprovalStatus plus ApprovalDescription "by: reason". SageMaker keeps only the latest
  one, so `history` holds at most that latest decision (CloudTrail has the rest).

Creating the model package group is the pipeline's (or CloudFormation's) job, not this class's.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Mapping

from pipelines import settings
from pipelines.registry.approved_pointer import DEFAULT_BASE_JOB_PREFIX, ApprovedPointer, S3ObjectStore
from pipelines.registry.base import ModelRegistry, approval_description, split_approval_description
from pipelines.registry.metrics import flatten_metrics
from pipelines.registry.model import PENDING, ApprovalEvent, ModelVersion, RegistryError, VersionNotFound
from pipelines.registry.refs import check_group_name, describe_ref_problem, parse_arn, parse_version_number
from pipelines.registry.request import (
    CHECKSUM,
    DATA_HASH,
    EXECUTION_ID,
    METRIC_PREFIX,
    metrics_from_properties,
    registration_fields,
)
from pipelines.registry.states import check_initial_status, check_transition

CONTENT_TYPE = "application/json"


class SageMakerRegistry(ModelRegistry):
    backend = "sagemaker"

    def __init__(self, client: Any = None, region: str | None = None, *, artifact_bucket: str | None = None,
                 s3_client: Any = None, base_job_prefix: str = DEFAULT_BASE_JOB_PREFIX):
        """`artifact_bucket`: the pipeline's bucket, where decisions keep the approved-model pointer up to date
        (approved_pointer.py); without it no pointer is written (`hscode registry sync-approved` can)."""
        if client is None:
            import boto3  # only this back end needs AWS

            client = boto3.client("sagemaker", region_name=region)
        self.client = client
        if artifact_bucket:
            if s3_client is None:
                import boto3

                s3_client = boto3.client("s3", region_name=region)
            self.approved_pointer = ApprovedPointer(S3ObjectStore(s3_client), artifact_bucket, base_job_prefix)

    # --- reading ----------------------------------------------------------------------------------

    def _summaries(self, group: str, **filters: Any) -> list[dict[str, Any]]:
        paginator = self.client.get_paginator("list_model_packages")
        summaries: list[dict[str, Any]] = []
        for page in paginator.paginate(ModelPackageGroupName=group, ModelPackageType="Versioned", **filters):
            summaries.extend(page["ModelPackageSummaryList"])
        return summaries

    def list_versions(self, group: str) -> list[ModelVersion]:
        # Summaries lack metrics and lineage, so each version is described (groups are small).
        versions = [self._describe_arn(s["ModelPackageArn"]) for s in self._summaries(group)]
        return sorted(versions, key=lambda v: v.version)

    def _arn_for(self, ref: str | int, group: str | None) -> str:
        version = parse_version_number(ref)
        if version is not None:
            group = group or settings.DEFAULT_MODEL_PACKAGE_GROUP
            for summary in self._summaries(group):
                if summary.get("ModelPackageVersion") == version:
                    return summary["ModelPackageArn"]
            raise VersionNotFound(
                f"no version {version} in SageMaker model package group {group!r}; "
                f"`hscode registry list --backend sagemaker --group {group}` shows what is there"
            )
        if parse_arn(str(ref)) is None:
            raise VersionNotFound(describe_ref_problem(str(ref)))
        return str(ref).strip()

    def _describe_raw(self, arn: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return self.client.describe_model_package(ModelPackageName=arn)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound"):
                raise VersionNotFound(f"{arn} is not in SageMaker Model Registry: {error}") from error
            raise

    def _describe_arn(self, arn: str) -> ModelVersion:
        return to_model_version(self._describe_raw(arn))

    def describe(self, ref: str | int, group: str | None = None) -> ModelVersion:
        return self._describe_arn(self._arn_for(ref, group))

    def latest_approved(self, group: str) -> ModelVersion | None:
        approved = self._summaries(group, ModelApprovalStatus="Approved")
        if not approved:
            return None
        newest = max(approved, key=lambda s: s.get("ModelPackageVersion") or 0)
        return self._describe_arn(newest["ModelPackageArn"])

    # --- writing ----------------------------------------------------------------------------------

    def _find_by_execution(self, group: str, execution_id: str) -> ModelVersion | None:
        for version in self.list_versions(group):
            if version.execution_id == execution_id:
                return version
        return None

    def register(
        self,
        group: str,
        model_data_url: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        approval_status: str = PENDING,
        execution_id: str | None = None,
        data_hash: str | None = None,
        checksum: str | None = None,
        description: str | None = None,
        image_uri: str | None = None,
        metrics_uri: str | None = None,
    ) -> ModelVersion:
        check_group_name(group)
        check_initial_status(approval_status)
        properties = {f"{METRIC_PREFIX}{name}": repr(value) for name, value in flatten_metrics(metrics).items()}
        for key, value in ((EXECUTION_ID, execution_id), (DATA_HASH, data_hash), (CHECKSUM, checksum)):
            if value:
                properties[key] = value
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": approval_status,
            "InferenceSpecification": {
                "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": [CONTENT_TYPE],
                "SupportedResponseMIMETypes": [CONTENT_TYPE],
            },
        }
        if properties:
            request["CustomerMetadataProperties"] = properties
        if description:
            request["ModelPackageDescription"] = description
        if execution_id:
            request["MetadataProperties"] = {"GeneratedBy": execution_id[:1024]}
        if metrics_uri:
            request["ModelMetrics"] = {"ModelQuality": {"Statistics": {"ContentType": CONTENT_TYPE,
                                                                          "S3Uri": metrics_uri}}}
        return self.register_package(request)

    def register_package(self, request: Mapping[str, Any]) -> ModelVersion:
        """Send the CreateModelPackage request as it is (the pipeline's, or one register() built).

        Idempotent per (group, execution-id), like the local registry: a retried execution gets its
        earlier version back.
        """
        fields = registration_fields(request)
        check_group_name(fields["group"])
        check_initial_status(fields["approval_status"])
        if not fields["image_uri"]:
            raise RegistryError(
                "the SageMaker back end needs image_uri (the serving image, e.g. the TensorFlow Serving 2.20 "
                "inference image for your region) to build the model package's InferenceSpecification"
            )
        if not fields["model_data_url"].startswith("s3://"):
            raise RegistryError(f"SageMaker needs the model artifact in S3, got {fields['model_data_url']!r}")
        body = dict(request)
        execution_id = fields["execution_id"]
        if execution_id:
            earlier = self._find_by_execution(fields["group"], execution_id)
            if earlier is not None:
                return earlier
            # SageMaker itself refuses a second create with the same token: a retry that races past the
            # lookup above still gets no duplicate.
            body.setdefault("ClientToken",
                            hashlib.sha256(f"{fields['group']}\n{execution_id}".encode()).hexdigest()[:36])
        arn = self.client.create_model_package(**body)["ModelPackageArn"]
        return self._after_decision(self._describe_arn(arn), None)

    def set_status(self, ref: str | int, status: str, by: str | None, reason: str | None,
                   group: str | None = None) -> ModelVersion:
        package = self._describe_raw(self._arn_for(ref, group))
        current = to_model_version(package)
        check_transition(current.arn, current.status, status)
        request: dict[str, Any] = {
            "ModelPackageArn": current.arn,
            "ModelApprovalStatus": status,
            "ApprovalDescription": approval_description(by, reason)[:1024],
        }
        existing = package.get("CustomerMetadataProperties")
        if existing:
            # SageMaker merges these; moto replaces the whole map with what is sent. Sending the current
            # map back keeps the lineage on both.
            request["CustomerMetadataProperties"] = existing
        self.client.update_model_package(**request)
        return self._after_decision(self._describe_arn(current.arn), current.status)


def to_model_version(package: Mapping[str, Any]) -> ModelVersion:
    """A DescribeModelPackage response as a ModelVersion."""
    properties = dict(package.get("CustomerMetadataProperties") or {})
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
    created = _as_datetime(package.get("CreationTime"))
    status = package.get("ModelApprovalStatus") or PENDING
    history: tuple[ApprovalEvent, ...] = ()
    if package.get("ApprovalDescription"):
        # SageMaker keeps only the latest decision, and not the status it left.
        by, reason = split_approval_description(package["ApprovalDescription"])
        history = (ApprovalEvent(None, status, by, reason,
                                 _as_datetime(package.get("LastModifiedTime") or package.get("CreationTime"))),)
    return ModelVersion(
        arn=package["ModelPackageArn"],
        group=package.get("ModelPackageGroupName") or "",
        version=int(package.get("ModelPackageVersion") or 0),
        status=status,
        created=created,
        model_data_url=containers[0].get("ModelDataUrl", ""),
        checksum=properties.get(CHECKSUM),
        metrics=metrics_from_properties(properties),
        execution_id=properties.get(EXECUTION_ID),
        data_hash=properties.get(DATA_HASH),
        description=package.get("ModelPackageDescription"),
        image_uri=containers[0].get("Image"),
        approval_description=package.get("ApprovalDescription"),
        history=history,
    )


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return datetime.now(timezone.utc)
