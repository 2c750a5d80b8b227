"""The monitoring pipeline's hooks for the generic local runner (the protocol: pipelines/local/__init__.py).

No profiles: the definition's defaults are the local run. stage_default_data puts what `hscode serve` and
`hscode ab start` wrote under $HSCODE_HOME (capture, ground truth, the running plan and its looks) and the HS 2022
nomenclature where the default parameters point, so that

    hscode pipeline run --local --module-name pipelines.monitoring.pipeline

takes one look at the local experiment, as the scheduled pipeline does on AWS.
"""
from __future__ import annotations

from pathlib import Path

from pipelines import settings
from pipelines.monitoring.pipeline import DEFAULT_ENDPOINT, default_uris
from pipelines.monitoring.plans import LOOKS_FILE, PLAN_FILE, experiment_dir


def _key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file() and not p.name.startswith(".")) if root.is_dir() else []


def stage_default_data(s3_client, bucket: str, base_job_prefix: str) -> list[str]:
    """Uploads the local capture, ground truth, plan (+ looks.jsonl) and nomenclature; returns the URIs written."""
    home = settings.hscode_home()
    uris = default_uris(bucket, base_job_prefix, DEFAULT_ENDPOINT)
    plan_dir = experiment_dir(home, DEFAULT_ENDPOINT)
    uploads = [(path, uris["CaptureUri"] + path.relative_to(home / "capture").as_posix())
               for path in _files(home / "capture", "*/*/*/*/*/*/*.jsonl")]
    uploads += [(path, uris["GroundTruthUri"] + path.relative_to(home / "ground-truth").as_posix())
                for path in _files(home / "ground-truth", "*/*/*/*/*.jsonl")]
    uploads += [(plan_dir / name, uris["PlanUri"] + name) for name in (PLAN_FILE, LOOKS_FILE)
                if (plan_dir / name).is_file()]
    uploads.append((settings.HS2022_NOMENCLATURE, uris["ReferenceDataUri"] + settings.HS2022_NOMENCLATURE.name))
    written = []
    for path, uri in uploads:
        target_bucket, key = _key(uri)
        s3_client.put_object(Bucket=target_bucket, Key=key, Body=path.read_bytes())
        written.append(uri)
    return written
