"""The local artifact store: a folder tree that mirrors S3 (s3://bucket/key <-> <home>/store/bucket/key).

This is the one s3:// -> local path mapping: anything that looks for an s3:// object on this machine
(the runner, the local registry, the CLI) asks `ArtifactStore.under(home).path_for(uri)`.
Every object is written to a temporary sibling first and renamed into place, so a runner killed
mid-copy never leaves a half-written object behind.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from urllib.parse import urlparse


class StoreError(Exception):
    """A missing object or a URI the store cannot map; the message says what to do."""


STORE_FOLDER = "store"  # under the local home (HSCODE_HOME)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """'s3://bucket/a/b' -> ('bucket', 'a/b'); the key may be empty for a whole bucket."""
    parsed = urlparse(str(uri))
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StoreError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    def under(cls, home: Path) -> "ArtifactStore":
        """The store of a local home (<home>/store)."""
        return cls(Path(home) / STORE_FOLDER)

    def path_for(self, uri: str) -> Path:
        bucket, key = split_s3_uri(uri)
        return self.root / bucket / key

    def uri_for(self, path: Path) -> str:
        relative = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        bucket, _, key = relative.partition("/")
        return f"s3://{bucket}/{key}"

    # ---- writing (atomic)
    def _staging(self, target: Path) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"

    def put_bytes(self, uri: str, body: bytes) -> Path:
        target = self.path_for(uri)
        staging = self._staging(target)
        staging.write_bytes(body)
        os.replace(staging, target)
        return target

    def put_file(self, uri: str, source: Path) -> Path:
        target = self.path_for(uri)
        staging = self._staging(target)
        shutil.copyfile(source, staging)
        os.replace(staging, target)
        return target

    def put_tree(self, uri: str, source_dir: Path) -> Path:
        """Upload every file under `source_dir` to `uri`/<relative path>, as a processing job's output upload
        to S3 does: an object with the same key is replaced, other objects under the prefix stay (a shared
        prefix such as a content-addressed snapshots root keeps every earlier snapshot)."""
        target = self.path_for(uri.rstrip("/"))
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(Path(source_dir).rglob("*")):
            if path.is_file():
                self.put_file(f"{uri.rstrip('/')}/{path.relative_to(source_dir).as_posix()}", path)
        return target

    # ---- reading
    def exists(self, uri: str) -> bool:
        return self.path_for(uri.rstrip("/")).exists()

    def fetch(self, uri: str, destination: Path) -> list[Path]:
        """Copy what SageMaker's S3Prefix input would: the object at `uri`, or every object under the prefix.

        A single object lands as destination/<its file name>; a prefix keeps its relative layout.
        """
        source = self.path_for(uri.rstrip("/"))
        destination.mkdir(parents=True, exist_ok=True)
        if source.is_file() and not uri.endswith("/"):
            copied = destination / source.name
            shutil.copyfile(source, copied)
            return [copied]
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True, ignore=_ignore_staging)
            return [p for p in destination.rglob("*") if p.is_file()]
        raise StoreError(f"no object or prefix at {uri} (local store: {source}): upload the data there "
                         "or override the parameter that names it with --param Name=s3://...")


def _ignore_staging(_directory: str, names: list[str]) -> set[str]:
    return {name for name in names if ".tmp-" in name and name.startswith(".")}
