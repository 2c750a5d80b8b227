"""The approved-model pointer hook on AWS: a Lambda handler for SageMaker's "Model Package State Change" event.

Approvals and rejections made in the SageMaker Studio console (or with the AWS CLI) do not pass through
ModelRegistry, so they do not rewrite the pointer the pipeline's quality gate reads (approved_pointer.py).
SageMaker emits the EventBridge event for each of them; the rule of infra/approved-pointer.yml sends the
group's events here, and this runs the code `hscode registry sync-approved --backend sagemaker` runs:
SageMakerRegistry.sync_approved_pointer -> ApprovedPointer.sync.

The event is only a trigger. The pointer is recomputed from the registry as it is now, so a duplicate, late
or out-of-order event is harmless. Two invocations can still overlap (approve, then reject within seconds),
and the one that read the registry first could write last; so after writing, the handler reads the registry
again and syncs again while the two disagree: whichever invocation writes last checks after its own write.

Environment (set by the stack): ARTIFACT_BUCKET, BASE_JOB_PREFIX, GROUP. The zip holds this module and what
it imports (aws_pointer_package.py); boto3 comes with the Lambda runtime.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping

from pipelines.registry.approved_pointer import describe_pointer
from pipelines.registry.model import RegistryError

HANDLER = "pipelines.registry.aws_pointer_handler.handler"
ENVIRONMENT = ("ARTIFACT_BUCKET", "BASE_JOB_PREFIX", "GROUP")
MAX_SYNCS = 3  # one sync, plus a re-sync per overlapping decision seen; more than that is a retry's job


@dataclass(frozen=True)
class HookConfig:
    bucket: str
    base_job_prefix: str
    group: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> "HookConfig":
        missing = [name for name in ENVIRONMENT if not environ.get(name, "").strip()]
        if missing:
            raise RegistryError(f"the approved-pointer hook needs the environment variables {', '.join(missing)} "
                                "(infra/approved-pointer.yml sets them)")
        return cls(environ["ARTIFACT_BUCKET"].strip(), environ["BASE_JOB_PREFIX"].strip(), environ["GROUP"].strip())


def event_summary(event: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the event says happened (for the log line only: nothing is decided from it but the group)."""
    detail = (event or {}).get("detail") or {}
    return {"id": (event or {}).get("id"), "group": detail.get("ModelPackageGroupName"),
            "version": detail.get("ModelPackageVersion"), "status": detail.get("ModelApprovalStatus")}


def _named_arn(document: Mapping[str, Any]) -> str | None:
    model = document.get("model")
    return model["arn"] if model else None


def sync_until_stable(registry, group: str, attempts: int = MAX_SYNCS) -> dict[str, Any]:
    """Sync the group's pointer, then check it against the registry once more; sync again while they differ."""
    for _ in range(attempts):
        document = registry.sync_approved_pointer(group)
        now = registry.latest_approved(group)
        if _named_arn(document) == (now.arn if now else None):
            return document
    raise RegistryError(
        f"the approved version of {group} kept changing during {attempts} syncs of its pointer; the next event (or "
        f"`hscode registry sync-approved --backend sagemaker --group {group}`) brings it up to date")


def handle(event: Mapping[str, Any] | None, registry, config: HookConfig) -> dict[str, Any]:
    """Sync the configured group's pointer for one event; an event of another group changes nothing.

    An event without a detail (a manual `aws lambda invoke` with `{}`) syncs too.
    """
    seen = event_summary(event)
    prefix = registry.approved_pointer.prefix_uri(config.group)
    if seen["group"] is not None and seen["group"] != config.group:
        result = {"skipped": f"event for model package group {seen['group']!r}, not {config.group!r}",
                  "event": seen, "pointer": prefix}
    else:
        document = sync_until_stable(registry, config.group)
        result = {"event": seen, "pointer": prefix, "model": document["model"],
                  "message": describe_pointer(document, prefix)}
    print(json.dumps(result, default=str), flush=True)  # one CloudWatch line per event
    return result


def registry_for(config: HookConfig, region: str | None = None):
    """The SageMaker back end keeping this group's pointer (clients from the Lambda's role and region)."""
    from pipelines.registry.sagemaker_registry import SageMakerRegistry

    return SageMakerRegistry(region=region, artifact_bucket=config.bucket, base_job_prefix=config.base_job_prefix)


def handler(event, context=None) -> dict[str, Any]:
    """The Lambda entry point (Handler: pipelines.registry.aws_pointer_handler.handler).

    A failure is raised, not answered: EventBridge invokes asynchronously, so Lambda retries the event (twice)
    and the error with its traceback is in the function's log.
    """
    config = HookConfig.from_environment()
    return handle(event, registry_for(config), config)
