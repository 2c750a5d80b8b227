"""The RegisterModel step against the local registry: its resolved CreateModelPackage request, nothing else.

Everything the version carries (metrics, execution id, data hash, checksum) is in that request, put
there by the pipeline definition (pipelines/registry/request.py says where); the runner reads no
side files, so what registers locally is what SageMaker would register.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.local.containers import JobFailed
from pipelines.registry import LocalRegistry, RegistryError


def register_model_package(arguments: dict, home: Path, execution_id: str) -> dict:
    """Register the package; returns DescribeModelPackage-like properties (ModelPackageArn...).

    `execution_id` only names the execution in the error message; the version's own execution id is
    the request's CustomerMetadataProperties["execution-id"], as on SageMaker.
    """
    try:
        version = LocalRegistry(home=home).register_package(arguments)
    except RegistryError as error:
        raise JobFailed(f"execution {execution_id}: registering the model package failed: {error}") from error
    return {
        **arguments,
        "ModelPackageArn": version.arn,
        "ModelPackageVersion": version.version,
        "ModelApprovalStatus": version.status,
        "ModelPackageStatus": "Completed",
    }
