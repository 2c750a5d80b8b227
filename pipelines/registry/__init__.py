"""The model registry: SageMaker Model Registry or a local SQLite one, behind one interface.

    from pipelines.registry import get_registry, resolve_model_uri
    registry = get_registry("local")                      # or "sagemaker"
    version = registry.register("hs-code-classifier", "s3://bucket/model.tar.gz", metrics={...}, execution_id=...)
    version = registry.register_package(request)          # a resolved CreateModelPackage request (request.py)
    registry.approve(version.arn, by="alice", reason="beats v3 on the FPO test set")
    path = resolve_model_uri("latest-approved")           # local path of the approved model.tar.gz
"""
from pipelines.registry.base import ModelRegistry
from pipelines.registry.factory import BACKENDS, get_registry
from pipelines.registry.local import LocalRegistry
from pipelines.registry.metrics import flatten_metrics, metric_text
from pipelines.registry.model import (
    APPROVED,
    PENDING,
    REJECTED,
    STATUSES,
    ApprovalEvent,
    IllegalTransition,
    ModelVersion,
    RegistryError,
    VersionNotFound,
)
from pipelines.registry.refs import LATEST_APPROVED, local_arn
from pipelines.registry.resolve import resolve_model_uri, resolve_version
from pipelines.registry.sagemaker_registry import SageMakerRegistry
from pipelines.registry.states import ALLOWED_TRANSITIONS

__all__ = [
    "ALLOWED_TRANSITIONS", "APPROVED", "BACKENDS", "LATEST_APPROVED", "PENDING", "REJECTED", "STATUSES",
    "ApprovalEvent", "IllegalTransition", "LocalRegistry", "ModelRegistry", "ModelVersion", "RegistryError",
    "SageMakerRegistry", "VersionNotFound", "flatten_metrics", "get_registry", "metric_text", "local_arn", "resolve_model_uri", "resolve_version",
]
