"""The approved-model pointer: where the pipeline's Evaluate step finds the model it must not fall behind.

The quality gate compares a new model with the group's currently approved one on the same test rows
(steps/hsml/approved_comparison.py). Evaluate, like every job, gets its inputs as ProcessingInputs (the local
runner interprets only the definition, and its jobs reach no registry), so the approved model lives at a
stable prefix of the artifact bucket, one per model package group:

    s3://<bucket>/<base_job_prefix>/approved/<group>/approved.json    {"model": null}, or the approved version:
                                                                      {"model": {"arn", "version", "checksum", ...}}
    s3://<bucket>/<base_job_prefix>/approved/<group>/model.tar.gz     a copy of its artifact (absent when null)

Writers: the registry, whenever a version enters or leaves Approved (`ModelRegistry.set_status`, `approve`,
`register` with status Approved; both back ends), and `hscode registry sync-approved` (also what an AWS hook on
SageMaker's "Model Package State Change" event runs, for approvals made in the Studio console). The pointer is
always recomputed from the registry (the approved version with the highest number, as `latest-approved`
resolves), so writing it twice, or for an old event, is harmless. `get_pipeline` seeds {"model": null} when
the prefix is empty, since SageMaker refuses an S3 input prefix with no object under it.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipelines.registry.model import RegistryError, ModelVersion

APPROVED_FILE = "approved.json"
MODEL_FILE = "model.tar.gz"
DEFAULT_BASE_JOB_PREFIX = "hs-code"  # get_pipeline's default


def approved_prefix_uri(bucket: str, base_job_prefix: str, group: str) -> str:
    """The pointer prefix of one model package group (trailing slash: no other group's prefix matches it)."""
    if not bucket or not group:
        raise RegistryError("the approved-model pointer needs an artifact bucket and a model package group")
    return f"s3://{bucket}/{base_job_prefix.strip('/')}/approved/{group}/"


def pointer_document(version: ModelVersion | None) -> dict[str, Any]:
    """approved.json's content for the approved version (None: no version of the group is approved)."""
    if version is None:
        return {"model": None}
    return {"model": {"arn": version.arn, "group": version.group, "version": version.version,
                      "checksum": version.checksum, "model_data_url": version.model_data_url, "file": MODEL_FILE}}


def null_pointer_bytes() -> bytes:
    return (json.dumps(pointer_document(None), indent=2) + "\n").encode("utf-8")


class ObjectStore(Protocol):
    """The three object operations the pointer needs: S3 on AWS, the local artifact store here."""

    def exists(self, uri: str) -> bool: ...

    def put_bytes(self, uri: str, body: bytes) -> None: ...

    def copy(self, source_uri: str, target_uri: str) -> None: ...

    def delete(self, uri: str) -> None: ...


class LocalObjectStore:
    """The local artifact store (s3://bucket/key is <home>/store/bucket/key); sources may also be local paths."""

    def __init__(self, home: Path):
        from pipelines.local.store import ArtifactStore

        self.home, self.store = Path(home), ArtifactStore.under(Path(home))

    def exists(self, uri: str) -> bool:
        return self.store.path_for(uri).is_file()

    def put_bytes(self, uri: str, body: bytes) -> None:
        self.store.put_bytes(uri, body)

    def copy(self, source_uri: str, target_uri: str) -> None:
        from pipelines.registry.artifacts import existing_artifact

        source = existing_artifact(source_uri, self.home)
        target = self.store.path_for(target_uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
        shutil.copyfile(source, staging)
        staging.replace(target)  # never a half-written model under the pointer

    def delete(self, uri: str) -> None:
        self.store.path_for(uri).unlink(missing_ok=True)


class S3ObjectStore:
    """S3 through a boto3 client (server-side copy: the model never passes through this machine)."""

    def __init__(self, client: Any):
        self.client = client

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        from pipelines.local.store import split_s3_uri

        return split_s3_uri(uri)

    def exists(self, uri: str) -> bool:
        from botocore.exceptions import ClientError

        bucket, key = self._split(uri)
        try:
            self.client.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def put_bytes(self, uri: str, body: bytes) -> None:
        bucket, key = self._split(uri)
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    def copy(self, source_uri: str, target_uri: str) -> None:
        source_bucket, source_key = self._split(source_uri)
        bucket, key = self._split(target_uri)
        self.client.copy({"Bucket": source_bucket, "Key": source_key}, bucket, key)  # multipart when large

    def delete(self, uri: str) -> None:
        bucket, key = self._split(uri)
        self.client.delete_object(Bucket=bucket, Key=key)


@dataclass
class ApprovedPointer:
    """Where one registry keeps the pointers of its groups, and through what store."""
    store: ObjectStore
    bucket: str
    base_job_prefix: str = DEFAULT_BASE_JOB_PREFIX

    def prefix_uri(self, group: str) -> str:
        return approved_prefix_uri(self.bucket, self.base_job_prefix, group)

    def write(self, group: str, version: ModelVersion | None) -> dict[str, Any]:
        """Point the group's prefix at `version` (None: no approved model). The model is copied first and
        approved.json written last, so a reader that finds a pointer finds its model (Evaluate checks the
        checksum, and says so if the two ever disagree)."""
        prefix = self.prefix_uri(group)
        document = pointer_document(version)
        if version is not None:
            self.store.copy(version.model_data_url, prefix + MODEL_FILE)
        self.store.put_bytes(prefix + APPROVED_FILE, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
        if version is None:
            self.store.delete(prefix + MODEL_FILE)
        return document

    def seed(self, group: str) -> bool:
        """Write {"model": null} when the group's prefix has no approved.json yet; True when it wrote."""
        uri = self.prefix_uri(group) + APPROVED_FILE
        if self.store.exists(uri):
            return False
        self.store.put_bytes(uri, null_pointer_bytes())
        return True

    def sync(self, registry, group: str) -> dict[str, Any]:
        """Recompute the pointer from the registry: its latest approved version of `group`, or none."""
        return self.write(group, registry.latest_approved(group))


def describe_pointer(document: dict[str, Any], prefix_uri: str) -> str:
    """One line for the CLI: what the pointer now names."""
    model = document.get("model")
    if model is None:
        return f"approved-model pointer {prefix_uri}: no approved version"
    return f"approved-model pointer {prefix_uri}: version {model['version']} ({model['arn']})"
