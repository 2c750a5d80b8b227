"""The experiment plan store: one running A/B experiment per endpoint, fixed before traffic flows.

Locally, under $HSCODE_HOME/ab/<endpoint>/:
    plan.json       the running experiment's plan (steps/hsml/ab_plan.py: plan_to_dict); present iff one runs
    looks.jsonl     every look (`hscode ab analyze`): when, what was read, the analysis; the history of the next
    decision.json   what `hscode ab decide` applied, written just before the experiment is closed
    closed/<experiment>/   a closed experiment's three files, moved there whole

On AWS (`--backend sagemaker --bucket B`) the same plan.json is also put at s3://B/ab/<endpoint>/plan.json, the
folder the monitoring pipeline's PlanUri names; its scheduled looks land below it in looks/<execution id>/.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from steps.hsml.cli_errors import UsageError

PLAN_FILE = "plan.json"
LOOKS_FILE = "looks.jsonl"
DECISION_FILE = "decision.json"
CLOSED_DIR = "closed"
S3_PREFIX = "ab"


def experiment_dir(home: Path, endpoint: str) -> Path:
    return Path(home) / "ab" / endpoint


def s3_plan_key(endpoint: str) -> str:
    return f"{S3_PREFIX}/{endpoint}/{PLAN_FILE}"


def write_json(path: Path, payload) -> None:
    """Atomically (rename): a reader never sees half a plan."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class PlanStore:
    """The local store of one endpoint's experiments."""

    def __init__(self, home: Path, endpoint: str):
        self.endpoint = endpoint
        self.folder = experiment_dir(home, endpoint)

    @property
    def plan_path(self) -> Path:
        return self.folder / PLAN_FILE

    @property
    def looks_path(self) -> Path:
        return self.folder / LOOKS_FILE

    def running(self) -> dict | None:
        """The running experiment's plan JSON, or None."""
        if not self.plan_path.is_file():
            return None
        return read_plan_json(self.plan_path)

    def require_running(self) -> dict:
        plan = self.running()
        if plan is None:
            raise UsageError(f"no A/B experiment is running for endpoint {self.endpoint} (no {self.plan_path}): "
                             "start one with `hscode ab start --challenger <version>`, or pass --plan FILE")
        return plan

    def start(self, plan: dict) -> Path:
        self.check_can_start()
        write_json(self.plan_path, plan)
        return self.plan_path

    def check_can_start(self) -> None:
        """UsageError while an experiment runs, or an earlier one left its files behind."""
        running = self.running()
        if running is not None:
            raise UsageError(f"experiment {running.get('experiment_id') or '?'} is still running for endpoint "
                             f"{self.endpoint} ({self.plan_path}): finish it with `hscode ab decide` (or delete "
                             "that folder to abandon it) before starting another")
        stale = [p for p in (self.looks_path, self.folder / DECISION_FILE) if p.exists()]
        if stale:
            raise UsageError(f"{', '.join(map(str, stale))} left from an earlier experiment: move them away first")

    def record_look(self, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.looks_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")

    def looks(self) -> list[dict]:
        return read_looks(self.looks_path)

    def close(self, decision: dict) -> Path:
        """Write decision.json, then move the experiment's files to closed/<experiment>/; returns that folder."""
        plan = self.require_running()
        write_json(self.folder / DECISION_FILE, decision)
        target = self.folder / CLOSED_DIR / str(plan.get("experiment_id") or "experiment")
        suffix = 1
        while target.exists():
            suffix += 1
            target = target.with_name(f"{target.name.split('~')[0]}~{suffix}")
        target.mkdir(parents=True)
        for name in (PLAN_FILE, LOOKS_FILE, DECISION_FILE):
            if (self.folder / name).exists():
                os.replace(self.folder / name, target / name)
        return target


def read_plan_json(path: Path) -> dict:
    """The plan file's JSON object; UsageError when it is missing or not a JSON object."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"plan {path} does not exist: pass --plan FILE or start an experiment (hscode ab start)")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise UsageError(f"plan {path} is not valid JSON ({error}); it is written by `hscode ab start`") from None
    if not isinstance(payload, dict):
        raise UsageError(f"plan {path} must hold a JSON object, not {type(payload).__name__}")
    return payload


def read_looks(path: Path) -> list[dict]:
    """The recorded looks, oldest first; a line that is not a record is skipped (the file is append-only)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = (look_record(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [record for record in records if record is not None]


def look_record(text: str | bytes) -> dict | None:
    """One look as recorded (a JSON object), or None for text that is not one (a truncated or foreign write):
    the one rule for every place looks are read from (looks.jsonl, the pipeline's analysis.json files, S3)."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class S3PlanMirror:
    """The plan, and the decision, in the artifact bucket where the monitoring pipeline reads them."""

    def __init__(self, client, bucket: str, endpoint: str):
        self.client, self.bucket, self.endpoint = client, bucket, endpoint

    @property
    def plan_uri(self) -> str:
        return f"s3://{self.bucket}/{s3_plan_key(self.endpoint)}"

    def put_plan(self, plan: dict) -> str:
        self.client.put_object(Bucket=self.bucket, Key=s3_plan_key(self.endpoint),
                               Body=(json.dumps(plan, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                               ContentType="application/json")
        return self.plan_uri

    def looks(self) -> list[dict]:
        """The monitoring pipeline's looks: looks/<execution id>/analysis.json below the plan."""
        prefix = f"{S3_PREFIX}/{self.endpoint}/looks/"
        looks = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith("/analysis.json"):
                    continue
                record = look_record(self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read())
                if record is not None:
                    looks.append(record)
        return looks

    def close(self, plan: dict, decision: dict) -> str:
        """Move plan.json to closed/<experiment>/ beside the decision, so the schedule finds no running plan."""
        closed = f"{S3_PREFIX}/{self.endpoint}/{CLOSED_DIR}/{plan.get('experiment_id') or 'experiment'}"
        for name, payload in ((PLAN_FILE, plan), (DECISION_FILE, decision)):
            self.client.put_object(Bucket=self.bucket, Key=f"{closed}/{name}",
                                   Body=(json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8"),
                                   ContentType="application/json")
        self.client.delete_object(Bucket=self.bucket, Key=s3_plan_key(self.endpoint))
        return f"s3://{self.bucket}/{closed}/"
