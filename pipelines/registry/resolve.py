"""Turn what a user types after `--model` into a model artifact to load."""
from __future__ import annotations

from pathlib import Path

from pipelines import settings
from pipelines.registry.artifacts import local_path_for, verify_checksum
from pipelines.registry.base import ModelRegistry
from pipelines.registry.factory import get_registry
from pipelines.registry.local import LocalRegistry
from pipelines.registry.model import ModelVersion, RegistryError
from pipelines.registry.refs import LATEST_APPROVED, parse_arn, parse_version_number


def resolve_version(ref: str | int, *, group: str | None = None, registry: ModelRegistry) -> ModelVersion:
    """`latest-approved`, a model-package ARN or a version number → the registered version."""
    group = group or settings.DEFAULT_MODEL_PACKAGE_GROUP
    if str(ref).strip() == LATEST_APPROVED:
        version = registry.latest_approved(group)
        if version is None:
            raise RegistryError(
                f"no approved version in model package group {group!r} ({registry.backend} registry): "
                "approve one with `hscode registry approve <version>`"
            )
        return version
    return registry.describe(ref, group)


def resolve_model_uri(ref: str | int, *, group: str | None = None, backend: str = "local",
                      registry: ModelRegistry | None = None, verify: bool = True) -> str:
    """Where the model named by `ref` can be loaded from.

    `ref` is `latest-approved`, a model-package ARN, a version number in `group` (default
    settings.DEFAULT_MODEL_PACKAGE_GROUP), or, for convenience, an existing local path or an s3:// URI
    (returned as a local path / mapped into the local store without touching the registry).

    Local back end: the local path of model.tar.gz (an s3:// artifact location maps to
    <hscode_home>/store/<bucket>/<key>); with `verify`, its sha256 is checked against the registered one.
    SageMaker back end: the version's ModelDataUrl (an s3:// URI).
    """
    registry = registry or get_registry(backend)
    text = str(ref).strip()
    named_in_registry = (
        text == LATEST_APPROVED or parse_arn(text) is not None or parse_version_number(text) is not None
    )
    if not named_in_registry:
        return _plain_location(text, registry)
    version = resolve_version(text, group=group, registry=registry)
    if not isinstance(registry, LocalRegistry):
        return version.model_data_url
    path = registry.artifact_path(version)
    if not path.is_file():
        raise RegistryError(
            f"{version.arn} points at {version.model_data_url}, but {path} does not exist on this machine: "
            "was the local store (HSCODE_HOME) moved or cleaned?"
        )
    if verify:
        verify_checksum(path, version.checksum)
    return str(path)


def _plain_location(text: str, registry: ModelRegistry) -> str:
    if Path(text).expanduser().exists():
        return str(Path(text).expanduser().resolve())
    if text.startswith("s3://") and isinstance(registry, LocalRegistry):
        path = local_path_for(text, registry.home)
        if path.exists():
            return str(path)
        raise RegistryError(f"{text} is not in the local store (looked for {path})")
    if text.startswith("s3://"):
        return text
    raise RegistryError(
        f"--model {text!r}: give `latest-approved`, a model-package ARN, a version number, "
        "or the path of a model.tar.gz / model directory"
    )
