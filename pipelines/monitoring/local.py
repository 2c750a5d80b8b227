"""The monitoring pipeline's hooks for the generic local runner (the protocol: pipelines/local/__init__.py).

One profile, `local`: the definition's defaults, except that the drift metric goes to the local metrics file
($HSCODE_HOME/metrics/HSMLOps-Drift.jsonl) instead of CloudWatch. stage_default_data puts what `hscode serve` and
`hscode ab start` wrote under $HSCODE_HOME (capture, ground truth, the running plan and its looks), the HS 2022
nomenclature and the champion `hscode serve` serves by default (the registry's latest approved version, resolved
through the registry as serve resolves it) at ModelUri/champion/, where the default parameters point, so that

    hscode pipeline run --local --module-name pipelines.monitoring.pipeline

checks the local traffic for drift and takes one look at the local experiment, as the scheduled pipeline does on
AWS. It also writes a seed object under each default input prefix (SageMaker, and the local runner, fail a job on
an input prefix with no object): `hscode pipeline upsert` runs this hook against the artifact bucket too, which
is how ModelUri and PlanUri are never empty on AWS; the schedule points CaptureUri/GroundTruthUri at the capture
bucket, which the deploy seeds (see pipeline.py).
"""
from __future__ import annotations

from pathlib import Path

import json
import logging

from pipelines import settings
from pipelines.local.pipeline_module import Profile
from pipelines.monitoring.pipeline import DEFAULT_ENDPOINT, SEED_OBJECT, default_uris
from pipelines.monitoring.plans import LOOKS_FILE, PLAN_FILE, experiment_dir

log = logging.getLogger(__name__)

LOCAL_PROFILES = {
    "local": Profile("local", "the drift metric to $HSCODE_HOME/metrics/HSMLOps-Drift.jsonl, not CloudWatch",
                     parameters={"DriftMetricSink": "local"}),
}
DEFAULT_LOCAL_PROFILE = "local"
CHAMPION = "champion"


def _key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file() and not p.name.startswith(".")) if root.is_dir() else []


def served_champion(group: str = settings.DEFAULT_MODEL_PACKAGE_GROUP):
    """(model.tar.gz path, model.json facts) of what `hscode serve` serves with no --model: the group's latest
    approved version in the local registry; None when there is none (nothing served, nothing to check)."""
    from pipelines.registry import RegistryError, get_registry, resolve_model_uri, resolve_version
    from pipelines.registry.refs import LATEST_APPROVED

    registry = get_registry("local")
    if not registry.db_path.is_file():  # no local registry at all (e.g. the AWS build's upsert): nothing served
        return None
    try:
        version = resolve_version(LATEST_APPROVED, group=group, registry=registry)
        path = Path(resolve_model_uri(version.arn, group=group, registry=registry))
    except RegistryError as error:
        log.info("no local champion to stage for the drift check: %s", error)
        return None
    return path, {"variant": CHAMPION, "model_package_arn": version.arn, "model_version": str(version.version),
                  "source": "local registry, latest-approved (as `hscode serve` picks its champion)"}


def stage_default_data(s3_client, bucket: str, base_job_prefix: str) -> list[str]:
    """Uploads the seeds, the local capture, ground truth, plan (+ looks.jsonl), nomenclature and champion;
    returns the URIs written."""
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
    bodies = [(uri, path.read_bytes()) for path, uri in uploads]
    bodies += [(uris[name] + SEED_OBJECT, b"") for name in ("ModelUri", "PlanUri", "CaptureUri", "GroundTruthUri")]
    champion = served_champion()
    if champion is not None:
        archive, facts = champion
        bodies += [(f"{uris['ModelUri']}{CHAMPION}/model.tar.gz", archive.read_bytes()),
                   (f"{uris['ModelUri']}{CHAMPION}/model.json", json.dumps(facts, indent=2).encode())]
    written = []
    for uri, body in bodies:
        target_bucket, key = _key(uri)
        s3_client.put_object(Bucket=target_bucket, Key=key, Body=body)
        written.append(uri)
    return written
