"""A content-addressed snapshot of the pipeline's inputs: what makes a retraining see new data.

The pipeline's first step copies every file under its input folders (the training data and the HS
nomenclature) to `<snapshots>/<hash>/<source>/...` and writes `snapshot.json`. Later steps read the
copy, so their inputs name the content: the same bytes give the same URIs (and a step-cache hit),
one changed byte gives a new hash, new URIs and a full retraining.

The hash (`content_hash`) is the hex sha256 of, for every file in order of its snapshot path:
    <snapshot path, UTF-8> NUL <the 32-byte sha256 of the file's bytes>
where the snapshot path is `<source>/<path relative to that source's folder>` with `/` separators
(e.g. "data/2025-06/rows.csv.gz", "reference/hs2022_nomenclature.csv"). So it covers every file's
name, folder, source and bytes, and nothing else: not timestamps, permissions or S3 metadata.
Marker files (`_SUCCESS`, written by an uploader to say "the batch is complete") are neither hashed
nor copied: rewriting one never changes the hash.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping

from steps.hsml.cli_errors import UsageError
from steps.hsml.hashing import sha256_file

MANIFEST_FILE = "snapshot.json"
# Hadoop/Spark's "this folder is complete" marker; the retraining rule listens for it (infra/retraining-rules.yml).
MARKER_NAMES = frozenset({"_SUCCESS"})


@dataclass(frozen=True)
class SnapshotFile:
    path: str  # the snapshot path, e.g. "data/rows.csv"
    size: int
    sha256: str
    rows: int | None  # CSV records after the header; None for a file that is not readable CSV


def snapshot_files(sources: Mapping[str, Path]) -> list[tuple[str, Path]]:
    """(snapshot path, file) for every file under each source folder, markers left out, sorted by path."""
    found = []
    for source, folder in sources.items():
        folder = Path(folder)
        for path in folder.rglob("*"):
            if path.is_file() and path.name not in MARKER_NAMES:
                found.append((f"{source}/{path.relative_to(folder).as_posix()}", path))
    return sorted(found)


def content_hash(files: Iterable[SnapshotFile]) -> str:
    """The snapshot's hash, as the module docstring defines it."""
    digest = hashlib.sha256()
    for item in sorted(files, key=lambda f: f.path):
        digest.update(item.path.encode("utf-8") + b"\0" + bytes.fromhex(item.sha256))
    return digest.hexdigest()


def count_csv_rows(path: Path) -> int | None:
    """Records after the header of a .csv / .csv.gz file (quoted newlines counted right); None otherwise."""
    if not path.name.endswith((".csv", ".csv.gz")):
        return None
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            records = sum(1 for _ in csv.reader(text))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error):
        return None  # preprocess is the validator and names the bad row; the snapshot only counts
    return max(records - 1, 0)


def describe_files(sources: Mapping[str, Path]) -> list[SnapshotFile]:
    return [SnapshotFile(name, path.stat().st_size, sha256_file(path), count_csv_rows(path))
            for name, path in snapshot_files(sources)]


def build_manifest(files: list[SnapshotFile]) -> dict:
    """snapshot.json's content: deterministic (no timestamps), so the same data gives the same bytes."""
    totals: dict[str, int] = {}
    for item in files:
        source = item.path.split("/", 1)[0]
        totals[source] = totals.get(source, 0) + (item.rows or 0)
    return {
        "hash": content_hash(files),
        "files": [asdict(item) for item in files],
        "rows": totals,
    }


def take_snapshot(sources: Mapping[str, Path], snapshots_dir: Path, manifest_dir: Path) -> dict:
    """Copy every source file to snapshots_dir/<hash>/<snapshot path>; write snapshot.json there and in
    manifest_dir. Returns the manifest. Raises UsageError when a source folder holds no file."""
    for source, folder in sources.items():
        if not snapshot_files({source: folder}):
            raise UsageError(f"the {source} input {folder} holds no file: upload the files there (or point the "
                             "pipeline parameter that names it at a prefix that holds them) and start again")
    files = describe_files(sources)
    manifest = build_manifest(files)
    target = Path(snapshots_dir) / manifest["hash"]
    for name, path in snapshot_files(sources):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    text = json.dumps(manifest, indent=2) + "\n"
    (target / MANIFEST_FILE).write_text(text, encoding="utf-8")
    Path(manifest_dir).mkdir(parents=True, exist_ok=True)
    (Path(manifest_dir) / MANIFEST_FILE).write_text(text, encoding="utf-8")
    return manifest
