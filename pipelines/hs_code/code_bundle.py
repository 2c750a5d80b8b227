"""Ships the project's `steps/` package to S3 for the jobs, under keys that only change when the code does.

The SDK's own code uploads put a timestamped job name in the key (FrameworkProcessor, the tuner's
`sourcedir.tar.gz`), which would change the definition on every build and break step caching.
Here the key holds a hash of the code, so the same code always gives the same definition, and
changed code gives a new key (and therefore a cache miss, which is what we want).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

# Files under steps/ that a job never needs.
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache"}
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class CodeBundle:
    """The steps/ package as (relative path, bytes) pairs, e.g. ("steps/train.py", b"...")."""

    files: tuple[tuple[str, bytes], ...]

    @classmethod
    def from_directory(cls, steps_dir: Path) -> "CodeBundle":
        steps_dir = Path(steps_dir)
        if not (steps_dir / "__init__.py").is_file():
            raise FileNotFoundError(f"{steps_dir} is not the steps package (no __init__.py); pass the repo's steps/ dir")
        files = []
        for path in sorted(steps_dir.rglob("*")):
            relative = path.relative_to(steps_dir)
            if not path.is_file() or path.suffix in _SKIPPED_SUFFIXES or _SKIPPED_DIRS & set(relative.parts):
                continue
            files.append(((Path(steps_dir.name) / relative).as_posix(), path.read_bytes()))
        return cls(tuple(files))

    @property
    def digest(self) -> str:
        """A short content hash: the same files give the same digest, on any machine."""
        sha = hashlib.sha256()
        for name, body in self.files:
            sha.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
        return sha.hexdigest()[:16]

    def tarball(self) -> bytes:
        """A byte-reproducible sourcedir.tar.gz (fixed mtimes and owners) for training script mode."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, body in self.files:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(body), 0o644, 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(body))
        return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class UploadedCode:
    """Where the bundle landed: a prefix holding the files one by one, and a tarball."""

    prefix_uri: str  # s3://bucket/<base>/code/<digest>/files/  (its steps/ sub-folder is the package)
    tarball_uri: str  # s3://bucket/<base>/code/<digest>/sourcedir.tar.gz


def upload_code_bundle(s3_client, bucket: str, base_prefix: str, bundle: CodeBundle) -> UploadedCode:
    """Puts the bundle at s3://bucket/<base_prefix>/code/<digest>/ (idempotent: same code, same keys)."""
    root = f"{base_prefix.strip('/')}/code/{bundle.digest}"
    for name, body in bundle.files:
        s3_client.put_object(Bucket=bucket, Key=f"{root}/files/{name}", Body=body)
    s3_client.put_object(Bucket=bucket, Key=f"{root}/sourcedir.tar.gz", Body=bundle.tarball())
    return UploadedCode(prefix_uri=f"s3://{bucket}/{root}/files/", tarball_uri=f"s3://{bucket}/{root}/sourcedir.tar.gz")
