"""Where a model artifact lives on this machine, and its checksum.

The local artifact store mirrors S3: s3://<bucket>/<key> is <hscode_home>/store/<bucket>/<key>.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pipelines.local.store import ArtifactStore
from pipelines.registry.model import RegistryError
from steps.hsml.hashing import sha256_file


def local_path_for(model_data_url: str, home: Path) -> Path:
    """Map an s3:// URI onto the local store, a file:// URI or plain path onto itself."""
    parsed = urlparse(model_data_url)
    if parsed.scheme == "s3":
        if not parsed.netloc or not parsed.path.strip("/"):
            raise RegistryError(f"{model_data_url!r} is not a full s3://bucket/key URI")
        return ArtifactStore.under(home).path_for(model_data_url)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter would be a Windows drive
        raise RegistryError(f"cannot map {model_data_url!r} to a local file: use an s3:// URI or a local path")
    return Path(model_data_url).expanduser().resolve()


def existing_artifact(model_data_url: str, home: Path) -> Path:
    path = local_path_for(model_data_url, home)
    if not path.is_file():
        mirror = f" (the local mirror of {model_data_url})" if path != Path(model_data_url) else ""
        raise RegistryError(
            f"model artifact not found at {path}{mirror}: run the pipeline or copy model.tar.gz there first"
        )
    return path


def verify_checksum(path: Path, expected: str | None) -> None:
    """Refuse an artifact that changed since it was registered."""
    if expected is None:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise RegistryError(
            f"{path} has sha256 {actual} but the registry recorded {expected}: the artifact changed after "
            "registration; register it again instead of overwriting it"
        )
