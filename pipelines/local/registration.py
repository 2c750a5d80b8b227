"""The RegisterModel step (CreateModelPackage arguments) against the local registry."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from pipelines.local.containers import JobFailed
from pipelines.local.store import ArtifactStore, StoreError
from pipelines.registry import LocalRegistry, RegistryError


def _metric_uris(model_metrics: Any) -> Iterator[str]:
    """Every S3Uri inside ModelMetrics, ModelQuality.Statistics first (where evaluation.json goes)."""
    quality = (model_metrics or {}).get("ModelQuality", {}).get("Statistics", {})
    if quality.get("S3Uri"):
        yield str(quality["S3Uri"])

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "S3Uri" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)

    yield from walk(model_metrics)


def data_hash_from_report(store: ArtifactStore, prepared_uris: list[str]) -> str | None:
    """Lineage: the training data's hash from the preprocess step's report.json, if one is there."""
    for uri in prepared_uris:
        report = store.path_for(uri.rstrip("/")) / "report.json"
        if report.is_file():
            try:
                return json.loads(report.read_text()).get("data_sha256")
            except ValueError:
                return None
    return None


def register_model_package(arguments: dict, store: ArtifactStore, home: Path, execution_id: str,
                           data_hash: str | None) -> dict:
    """Register the package; returns DescribeModelPackage-like properties (ModelPackageArn...)."""
    containers = arguments.get("InferenceSpecification", {}).get("Containers", [])
    if not containers or not containers[0].get("ModelDataUrl"):
        raise JobFailed("the RegisterModel step has no InferenceSpecification.Containers[0].ModelDataUrl")
    model_data_url = str(containers[0]["ModelDataUrl"])
    metrics, metrics_uri = {}, None
    for uri in _metric_uris(arguments.get("ModelMetrics")):
        try:
            metrics, metrics_uri = json.loads(store.path_for(uri).read_text()), uri
            break
        except (OSError, ValueError, StoreError):
            continue
    group = str(arguments["ModelPackageGroupName"])
    try:
        version = LocalRegistry(home=home).register(
            group, model_data_url,
            metrics=metrics,
            approval_status=str(arguments.get("ModelApprovalStatus", "PendingManualApproval")),
            execution_id=execution_id,
            data_hash=data_hash,
            description=arguments.get("ModelPackageDescription") or f"pipeline execution {execution_id}",
            image_uri=containers[0].get("Image"),
            metrics_uri=metrics_uri,
        )
    except RegistryError as error:
        raise JobFailed(str(error)) from error
    return {
        **arguments,
        "ModelPackageArn": version.arn,
        "ModelPackageVersion": version.version,
        "ModelApprovalStatus": version.status,
        "ModelPackageStatus": "Completed",
        "_checksum": version.checksum,
        "_metrics": version.metrics,
    }
