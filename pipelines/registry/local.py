"""The local model registry: one SQLite file, the same states and shapes as SageMaker Model Registry.

Every write runs in a `BEGIN IMMEDIATE` transaction, so concurrent writers (two approvals, two pipeline
executions registering at once) queue on SQLite's write lock instead of reading stale state: version
numbers never collide, a decision is checked against the status it actually changes, and a failed write
leaves nothing behind.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipelines import settings
from pipelines.local.offline import OFFLINE_BUCKET
from pipelines.registry.approved_pointer import DEFAULT_BASE_JOB_PREFIX, ApprovedPointer, LocalObjectStore
from pipelines.registry.artifacts import existing_artifact, local_path_for
from steps.hsml.hashing import sha256_file
from pipelines.registry.base import ModelRegistry, approval_description
from pipelines.registry.metrics import flatten_metrics
from pipelines.registry.model import PENDING, ApprovalEvent, ModelVersion, RegistryError, VersionNotFound
from pipelines.registry.refs import (
    check_group_name,
    describe_ref_problem,
    local_arn,
    parse_arn,
    parse_version_number,
)
from pipelines.registry.states import check_initial_status, check_transition

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS model_versions (
    arn                  TEXT PRIMARY KEY,
    group_name           TEXT NOT NULL COLLATE NOCASE,
    version              INTEGER NOT NULL CHECK (version > 0),
    status               TEXT NOT NULL CHECK (status IN ('PendingManualApproval', 'Approved', 'Rejected')),
    created              TEXT NOT NULL,
    model_data_url       TEXT NOT NULL,
    checksum             TEXT,
    metrics              TEXT NOT NULL DEFAULT '{}',
    execution_id         TEXT,
    data_hash            TEXT,
    description          TEXT,
    image_uri            TEXT,
    approval_description TEXT,
    UNIQUE (group_name, version)
);
-- A retried pipeline execution must not add a second version.
CREATE UNIQUE INDEX IF NOT EXISTS one_version_per_execution
    ON model_versions (group_name, execution_id) WHERE execution_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS approval_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    arn         TEXT NOT NULL REFERENCES model_versions (arn),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    by          TEXT,
    reason      TEXT,
    at          TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class LocalRegistry(ModelRegistry):
    backend = "local"

    def __init__(self, home: Path | str | None = None, db_path: Path | str | None = None,
                 busy_timeout_s: float = 60.0, base_job_prefix: str = DEFAULT_BASE_JOB_PREFIX):
        self.home = Path(home).resolve() if home is not None else settings.hscode_home()
        self.db_path = Path(db_path) if db_path is not None else self.home / "registry.sqlite"
        self.busy_timeout_s = busy_timeout_s
        self._schema_ready = False
        # The local pipeline's artifact bucket lives in <home>/store: the pointer goes where its Evaluate reads.
        self.approved_pointer = ApprovedPointer(LocalObjectStore(self.home), OFFLINE_BUCKET, base_job_prefix)

    # --- connections and transactions -------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so BEGIN IMMEDIATE means what it says.
        conn = sqlite3.connect(self.db_path, timeout=self.busy_timeout_s, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        if not self._schema_ready:
            # The default rollback journal, not WAL: switching a fresh file to WAL while other processes
            # open it fails with "database is locked" without waiting; writes here are few and short.
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
            self._schema_ready = True
        return conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # --- reading ----------------------------------------------------------------------------------

    def _find_row(self, conn: sqlite3.Connection, ref: str | int, group: str | None) -> sqlite3.Row:
        version = parse_version_number(ref)
        if version is not None:
            group = group or settings.DEFAULT_MODEL_PACKAGE_GROUP
            row = conn.execute(
                "SELECT * FROM model_versions WHERE group_name = ? AND version = ?", (group, version)
            ).fetchone()
            if row is None:
                raise VersionNotFound(
                    f"no version {version} in model package group {group!r} of the local registry "
                    f"({self.db_path}); `hscode registry list --group {group}` shows what is there"
                )
            return row
        arn = parse_arn(str(ref))
        if arn is None:
            raise VersionNotFound(describe_ref_problem(str(ref)))
        if not arn.is_local:
            raise RegistryError(f"{ref} is a SageMaker ARN (region {arn.region}): use --backend sagemaker")
        row = conn.execute("SELECT * FROM model_versions WHERE arn = ?", (str(ref).strip(),)).fetchone()
        if row is None:
            raise VersionNotFound(f"{ref} is not in the local registry ({self.db_path})")
        return row

    def _to_version(self, conn: sqlite3.Connection, row: sqlite3.Row) -> ModelVersion:
        events = conn.execute(
            "SELECT from_status, to_status, by, reason, at FROM approval_events WHERE arn = ? ORDER BY id",
            (row["arn"],),
        ).fetchall()
        return ModelVersion(
            arn=row["arn"],
            group=row["group_name"],
            version=row["version"],
            status=row["status"],
            created=datetime.fromisoformat(row["created"]),
            model_data_url=row["model_data_url"],
            checksum=row["checksum"],
            metrics=json.loads(row["metrics"]),
            execution_id=row["execution_id"],
            data_hash=row["data_hash"],
            description=row["description"],
            image_uri=row["image_uri"],
            approval_description=row["approval_description"],
            history=tuple(
                ApprovalEvent(e["from_status"], e["to_status"], e["by"], e["reason"], datetime.fromisoformat(e["at"]))
                for e in events
            ),
        )

    def list_versions(self, group: str) -> list[ModelVersion]:
        with self._transaction(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM model_versions WHERE group_name = ? ORDER BY version", (group,)
            ).fetchall()
            return [self._to_version(conn, row) for row in rows]

    def describe(self, ref: str | int, group: str | None = None) -> ModelVersion:
        with self._transaction(write=False) as conn:
            return self._to_version(conn, self._find_row(conn, ref, group))

    def latest_approved(self, group: str) -> ModelVersion | None:
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT * FROM model_versions WHERE group_name = ? AND status = 'Approved' "
                "ORDER BY version DESC LIMIT 1",
                (group,),
            ).fetchone()
            return self._to_version(conn, row) if row else None

    def artifact_path(self, version: ModelVersion) -> Path:
        """The model.tar.gz of a version on this machine (s3:// URIs map into <home>/store)."""
        return local_path_for(version.model_data_url, self.home)

    # --- writing ----------------------------------------------------------------------------------

    def register(
        self,
        group: str,
        model_data_url: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        approval_status: str = PENDING,
        execution_id: str | None = None,
        data_hash: str | None = None,
        checksum: str | None = None,
        description: str | None = None,
        image_uri: str | None = None,
        metrics_uri: str | None = None,
    ) -> ModelVersion:
        """Add a version whose artifact exists on this machine; its sha256 is computed (and checked if given).

        Idempotent per (group, execution_id): a retried execution gets its earlier version back.
        `metrics_uri` (where evaluation.json lives) only feeds SageMaker's ModelMetrics; here the metrics
        themselves are kept.
        """
        check_group_name(group)
        check_initial_status(approval_status)
        flat_metrics = flatten_metrics(metrics)
        artifact = existing_artifact(model_data_url, self.home)
        actual_checksum = sha256_file(artifact)
        if checksum is not None and checksum.lower() != actual_checksum:
            raise RegistryError(
                f"checksum mismatch for {model_data_url}: given {checksum}, the file at {artifact} has "
                f"{actual_checksum}; the artifact changed since the checksum was taken"
            )
        # A plain relative path would mean something else from another directory: keep it absolute.
        stored_url = model_data_url if "://" in model_data_url else str(artifact)

        with self._transaction(write=True) as conn:
            if execution_id is not None:
                earlier = conn.execute(
                    "SELECT * FROM model_versions WHERE group_name = ? AND execution_id = ?", (group, execution_id)
                ).fetchone()
                if earlier is not None:
                    if earlier["checksum"] != actual_checksum:
                        log.warning("execution %s already registered %s with a different artifact; keeping it",
                                    execution_id, earlier["arn"])
                    return self._to_version(conn, earlier)
            version = conn.execute(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE group_name = ?", (group,)
            ).fetchone()[0]
            arn = local_arn(group, version)
            now = _now()
            self._insert_version(conn, {
                "arn": arn, "group_name": group, "version": version, "status": approval_status, "created": now,
                "model_data_url": stored_url, "checksum": actual_checksum, "metrics": json.dumps(flat_metrics),
                "execution_id": execution_id, "data_hash": data_hash, "description": description,
                "image_uri": image_uri, "approval_description": None,
            })
            origin = f"registered by pipeline execution {execution_id}" if execution_id else "registered"
            self._insert_event(conn, arn, None, approval_status, None, origin, now)
            row = conn.execute("SELECT * FROM model_versions WHERE arn = ?", (arn,)).fetchone()
            registered = self._to_version(conn, row)
        return self._after_decision(registered, None)

    def set_status(self, ref: str | int, status: str, by: str | None, reason: str | None,
                   group: str | None = None) -> ModelVersion:
        with self._transaction(write=True) as conn:
            row = self._find_row(conn, ref, group)
            check_transition(row["arn"], row["status"], status)
            conn.execute(
                "UPDATE model_versions SET status = ?, approval_description = ? WHERE arn = ?",
                (status, approval_description(by, reason), row["arn"]),
            )
            self._insert_event(conn, row["arn"], row["status"], status, by, reason, _now())
            updated = conn.execute("SELECT * FROM model_versions WHERE arn = ?", (row["arn"],)).fetchone()
            previous, version = row["status"], self._to_version(conn, updated)
        return self._after_decision(version, previous)  # after the commit: the pointer reads committed state

    @staticmethod
    def _insert_version(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        conn.execute(f"INSERT INTO model_versions ({columns}) VALUES ({placeholders})", tuple(values.values()))

    @staticmethod
    def _insert_event(conn: sqlite3.Connection, arn: str, from_status: str | None, to_status: str,
                      by: str | None, reason: str | None, at: str) -> None:
        conn.execute(
            "INSERT INTO approval_events (arn, from_status, to_status, by, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            (arn, from_status, to_status, by, reason, at),
        )
