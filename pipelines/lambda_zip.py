"""Deterministic Lambda code zips: the same sources give the same bytes, so the content-addressed S3 key (and the
stack update it triggers) changes only when the code does. Used by the router's and the approved-pointer hook's
packaging (pipelines/serving/aws_package.py, pipelines/registry/aws_pointer_package.py)."""
from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def write_lambda_zip(out: Path, entries: dict[str, Path]) -> tuple[Path, str]:
    """Write `entries` (zip entry name -> source file) to `out`; returns (path, sha256 hex of its bytes)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(entries.items()):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16  # readable by the Lambda runtime's user
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out, hashlib.sha256(out.read_bytes()).hexdigest()
