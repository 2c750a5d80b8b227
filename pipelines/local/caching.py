"""Step caching as the definition's CacheConfig asks: the same cache-key attributes reuse an earlier run.

The key attributes are SageMaker's documented defaults per step type (outputs are not part of
them, so a per-execution output prefix does not defeat the cache); a hit reuses the earlier
run's properties, so downstream steps read the earlier outputs, which must still be in the store.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from pipelines.local.errors import DefinitionError
from pipelines.local.store import ArtifactStore

_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": ("AlgorithmSpecification", "CheckpointConfig", "Environment", "HyperParameters", "InputDataConfig"),
    "Tuning": ("HyperParameterTuningJobConfig", "TrainingJobDefinition"),
}
# Parts of a tuning job's TrainingJobDefinition that do not change what it computes.
_TUNING_IGNORED = ("OutputDataConfig", "ResourceConfig", "RoleArn", "StoppingCondition", "VpcConfig")

_DURATION = re.compile(r"^P?(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.I)


def parse_expire_after(text: str | None) -> timedelta | None:
    """ISO 8601 durations (P30D, PT1H, P1Y2M) and SageMaker's short forms (30d, T16m); None = never expires."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        raise DefinitionError(f"CacheConfig.ExpireAfter {text!r} is not an ISO 8601 duration such as P30D or PT12H")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=365 * years + 30 * months + 7 * weeks + days, hours=hours, minutes=minutes, seconds=seconds)


def cache_key(pipeline_name: str, step_name: str, step_type: str, arguments: dict) -> str | None:
    attributes = _KEY_ATTRIBUTES.get(step_type)
    if attributes is None:
        return None
    material = {name: arguments.get(name) for name in attributes}
    if step_type == "Tuning" and isinstance(material["TrainingJobDefinition"], dict):
        material["TrainingJobDefinition"] = {k: v for k, v in material["TrainingJobDefinition"].items()
                                             if k not in _TUNING_IGNORED}
    blob = json.dumps([pipeline_name, step_name, step_type, material], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _output_uris(properties: Any) -> Iterator[str]:
    """The artifacts a cached run produced (processing outputs, model artifacts) that a hit would reuse."""
    for output in properties.get("ProcessingOutputConfig", {}).get("Outputs", []):
        yield str(output.get("S3Output", {}).get("S3Uri", ""))
    if "ModelArtifacts" in properties:
        yield properties["ModelArtifacts"]["S3ModelArtifacts"]
    best = properties.get("BestTrainingJob", {})
    if "ModelArtifacts" in best:
        yield best["ModelArtifacts"]["S3ModelArtifacts"]


class StepCache:
    def __init__(self, home: Path, store: ArtifactStore):
        self.root = Path(home) / "cache"
        self.store = store

    def lookup(self, key: str, expire_after: str | None) -> dict | None:
        path = self.root / f"{key}.json"
        if not path.is_file():
            return None
        entry = json.loads(path.read_text())
        lifetime = parse_expire_after(expire_after)
        finished = datetime.fromisoformat(entry["finished"])
        if lifetime is not None and datetime.now(timezone.utc) - finished > lifetime:
            return None
        if not all(uri and self.store.exists(uri) for uri in _output_uris(entry["properties"])):
            return None  # someone removed the outputs: run again rather than point at nothing
        return entry

    def save(self, key: str, execution_id: str, properties: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".{key}.tmp"
        staging.write_text(json.dumps({"execution_id": execution_id, "properties": properties,
                                       "finished": datetime.now(timezone.utc).isoformat()}, default=str))
        os.replace(staging, self.root / f"{key}.json")
