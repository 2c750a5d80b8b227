"""The one interface both registries implement; callers never branch on where they run."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Mapping

from pipelines.registry.model import APPROVED, PENDING, REJECTED, ModelVersion, RegistryError
from pipelines.registry.request import registration_fields

if TYPE_CHECKING:
    from pipelines.registry.approved_pointer import ApprovedPointer


class ModelRegistry(ABC):
    """Versions of a model, grouped per model package group, each PendingManualApproval, Approved or Rejected.

    A version is named (`ref`) by its model-package ARN or by its version number within `group`.
    """

    backend: str
    # Where the pipeline's quality gate finds the approved model (approved_pointer.py); None: not kept here.
    approved_pointer: "ApprovedPointer | None" = None

    @abstractmethod
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
        """Add a new version; registering again with the same (group, execution_id) returns the first one."""

    def register_package(self, request: Mapping[str, Any]) -> ModelVersion:
        """Register from a resolved CreateModelPackage request: what the pipeline's Register step sends
        (fields as pipelines/registry/request.py reads them)."""
        return self.register(**registration_fields(request))

    @abstractmethod
    def list_versions(self, group: str) -> list[ModelVersion]:
        """All versions of the group, oldest first."""

    @abstractmethod
    def describe(self, ref: str | int, group: str | None = None) -> ModelVersion:
        """One version; raises VersionNotFound."""

    @abstractmethod
    def set_status(self, ref: str | int, status: str, by: str | None, reason: str | None,
                   group: str | None = None) -> ModelVersion:
        """Move a version to `status` if the state machine (states.py) allows it; raises IllegalTransition."""

    def approve(self, ref: str | int, by: str | None = None, reason: str | None = None,
                group: str | None = None) -> ModelVersion:
        return self.set_status(ref, APPROVED, by, reason, group)

    def reject(self, ref: str | int, by: str | None = None, reason: str | None = None,
               group: str | None = None) -> ModelVersion:
        return self.set_status(ref, REJECTED, by, reason, group)

    def sync_approved_pointer(self, group: str) -> dict | None:
        """Rewrite the group's approved-model pointer from the registry's state (None when none is kept)."""
        return self.approved_pointer.sync(self, group) if self.approved_pointer is not None else None

    def _after_decision(self, version: ModelVersion, previous_status: str | None) -> ModelVersion:
        """A version entered or left Approved: the approved model may have changed, so is the pointer."""
        if APPROVED in (version.status, previous_status) and version.status != previous_status:
            try:
                self.sync_approved_pointer(version.group)
            except Exception as error:  # the decision stands; say how to bring the pointer up to date
                raise RegistryError(
                    f"{version.arn} is now {version.status}, but the approved-model pointer was not updated "
                    f"({error}); run `hscode registry sync-approved --group {version.group}`") from error
        return version

    def latest_approved(self, group: str) -> ModelVersion | None:
        """The approved version with the highest version number, or None."""
        approved = [v for v in self.list_versions(group) if v.status == APPROVED]
        return max(approved, key=lambda v: v.version) if approved else None


def approval_description(by: str | None, reason: str | None) -> str:
    """SageMaker keeps one free-text ApprovalDescription; both back ends write it as "by: reason"."""
    return f"{by or 'unknown'}: {reason or ''}".rstrip()


def split_approval_description(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    by, sep, reason = text.partition(": ")
    if not sep:
        return (by.rstrip(":") or None), None
    return by or None, reason or None
