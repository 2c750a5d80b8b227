"""The one registration contract: a CreateModelPackage request, as the pipeline's Register step sends it.

The pipeline definition (pipelines/hs_code/pipeline.py) puts everything a version carries into that
request, and SageMaker (or the local runner) resolves it at run time:
- the artifact: InferenceSpecification.Containers[0].ModelDataUrl, with its serving Image;
- lineage: CustomerMetadataProperties "execution-id", "data-hash" (the input snapshot's hash) and
  "checksum-sha256" (the sha256 of the model.tar.gz that Evaluate scored);
- metrics: CustomerMetadataProperties "metric.<name>" (strings, as SageMaker requires), and the full
  evaluation.json at ModelMetrics.ModelQuality.Statistics.S3Uri.
Both back ends read exactly this: SageMaker stores the request as it is, and the local registry takes
its fields from `registration_fields` (through `ModelRegistry.register_package`).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from pipelines.registry.model import PENDING, RegistryError

EXECUTION_ID = "execution-id"
DATA_HASH = "data-hash"
CHECKSUM = "checksum-sha256"
METRIC_PREFIX = "metric."


def metrics_from_properties(properties: Mapping[str, Any]) -> dict[str, float]:
    """{"accuracy": 0.41, ...} from "metric.<name>" entries; a value that is not a finite number is refused."""
    metrics = {}
    for key, value in properties.items():
        if not key.startswith(METRIC_PREFIX):
            continue
        name = key[len(METRIC_PREFIX):]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise RegistryError(f"CustomerMetadataProperties[{key!r}] is {value!r}, not a number: the pipeline "
                                "must Join the metric's JsonGet into a numeric string") from None
        if not math.isfinite(number):
            raise RegistryError(f"metric {name!r} is {value!r}: only finite numbers can be registered")
        metrics[name] = number
    return metrics


def registration_fields(request: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved CreateModelPackage request as ModelRegistry.register's keyword arguments."""
    group = request.get("ModelPackageGroupName")
    containers = (request.get("InferenceSpecification") or {}).get("Containers") or []
    if not group or not containers or not containers[0].get("ModelDataUrl"):
        raise RegistryError("the CreateModelPackage request needs ModelPackageGroupName and "
                            "InferenceSpecification.Containers[0].ModelDataUrl: is the Register step's "
                            "definition complete?")
    properties = request.get("CustomerMetadataProperties") or {}
    statistics = ((request.get("ModelMetrics") or {}).get("ModelQuality") or {}).get("Statistics") or {}
    return {
        "group": str(group),
        "model_data_url": str(containers[0]["ModelDataUrl"]),
        "metrics": metrics_from_properties(properties),
        "approval_status": str(request.get("ModelApprovalStatus") or PENDING),
        "execution_id": properties.get(EXECUTION_ID),
        "data_hash": properties.get(DATA_HASH),
        "checksum": properties.get(CHECKSUM),
        "description": request.get("ModelPackageDescription"),
        "image_uri": containers[0].get("Image"),
        "metrics_uri": statistics.get("S3Uri"),
    }
