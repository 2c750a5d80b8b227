"""Unpacking a model.tar.gz (the inverse of export.pack_model_dir): stdlib only, so the predictor, the local
server and the drift job share it without importing TensorFlow."""
from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from steps.hsml.cli_errors import UsageError


def unpack_model_archive(tar_path: str | Path, target: str | Path) -> Path:
    """Extract `tar_path` into `target`, atomically: into a sibling scratch folder renamed into place, so a reader
    never sees half a model. If another process put `target` there first, theirs is kept (same archive, same
    bytes when `target` is named by the archive's hash). An unreadable archive is a UsageError."""
    tar_path, target = Path(tar_path), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        with tarfile.open(tar_path, "r:*") as archive:
            archive.extractall(partial, filter="data")
        partial.rename(target)
    except (tarfile.TarError, OSError, EOFError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        if target.is_dir():  # another process extracted the same archive first
            return target
        raise UsageError(f"cannot read model archive {tar_path}: {error}; give a model.tar.gz written by "
                         "training (`hscode train --package`) or an extracted model dir") from None
    return target
