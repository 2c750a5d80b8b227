"""What a registered model version looks like, whichever back end holds it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"
STATUSES = (PENDING, APPROVED, REJECTED)


class RegistryError(Exception):
    """Anything the registry refuses; the message says what to do instead."""


class VersionNotFound(RegistryError):
    pass


class IllegalTransition(RegistryError):
    pass


@dataclass(frozen=True)
class ApprovalEvent:
    """One decision on a version: who moved it from which status to which, when and why."""

    from_status: str | None  # None for the registration itself
    to_status: str
    by: str | None
    reason: str | None
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True)
class ModelVersion:
    arn: str
    group: str
    version: int
    status: str
    created: datetime
    model_data_url: str
    checksum: str | None = None  # sha256 of model.tar.gz, hex
    metrics: dict[str, float] = field(default_factory=dict)
    execution_id: str | None = None  # lineage: the pipeline execution that produced it
    data_hash: str | None = None  # lineage: hash of the training data
    description: str | None = None
    image_uri: str | None = None
    approval_description: str | None = None  # the latest decision, "by: reason" as SageMaker stores it
    history: tuple[ApprovalEvent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 strings."""
        data = asdict(self)
        data["created"] = self.created.isoformat()
        data["history"] = [event.to_dict() for event in self.history]
        return data
