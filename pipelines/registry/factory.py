"""Pick a registry back end by name: what the CLI's --backend flag and other callers use."""
from __future__ import annotations

from typing import Any

from pipelines.registry.base import ModelRegistry
from pipelines.registry.model import RegistryError

BACKENDS = ("local", "sagemaker")


def get_registry(backend: str = "local", **kwargs: Any) -> ModelRegistry:
    """`local`: LocalRegistry(home=None, db_path=None); `sagemaker`: SageMakerRegistry(client=None, region=None)."""
    if backend == "local":
        from pipelines.registry.local import LocalRegistry

        return LocalRegistry(**kwargs)
    if backend == "sagemaker":
        from pipelines.registry.sagemaker_registry import SageMakerRegistry

        return SageMakerRegistry(**kwargs)
    raise RegistryError(f"unknown registry back end {backend!r}: choose one of {', '.join(BACKENDS)}")
