"""hscode registry list|describe|approve|reject|sync-approved: look at and decide on registered model versions.

Every decision that changes the approved version also rewrites the approved-model pointer the pipeline's
quality gate reads (pipelines/registry/approved_pointer.py): locally always, on SageMaker when the artifact
bucket is known (--bucket or $HSCODE_ARTIFACT_BUCKET). `sync-approved` rewrites it from the registry's state,
e.g. after an approval made in the SageMaker Studio console.

Errors follow steps/hsml/cli_errors.py: a version that is not there or a move the state machine refuses
is bad input (exit 2); anything else the registry or AWS refuses is a failed command (exit 1).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
from contextlib import contextmanager
from typing import Iterator

from pipelines import settings
from pipelines.registry.approved_pointer import DEFAULT_BASE_JOB_PREFIX
from pipelines.registry import (
    ALLOWED_TRANSITIONS,
    BACKENDS,
    STATUSES,
    IllegalTransition,
    ModelVersion,
    RegistryError,
    VersionNotFound,
    get_registry,
    metric_text,
)
from steps.hsml.cli_errors import JobFailed, UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "registry",
        help="list, describe, approve or reject model versions (local SQLite or SageMaker Model Registry)",
        description="Model versions per model package group, each PendingManualApproval, Approved or Rejected. "
        "Allowed moves: " + "; ".join(f"{s} -> {' or '.join(sorted(t))}" for s, t in ALLOWED_TRANSITIONS.items()),
    )
    actions = parser.add_subparsers(dest="registry_command", required=True, metavar="ACTION")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", choices=BACKENDS, default="local",
                        help="local: <HSCODE_HOME>/registry.sqlite (default); sagemaker: SageMaker Model Registry")
    common.add_argument("--group", default=settings.DEFAULT_MODEL_PACKAGE_GROUP,
                        help="model package group (default %(default)s)")
    common.add_argument("--region", help="AWS region for --backend sagemaker (default: your AWS configuration)")
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    common.add_argument("--bucket", default=os.environ.get("HSCODE_ARTIFACT_BUCKET"),
                        help="--backend sagemaker: the pipeline's artifact bucket, where decisions keep the "
                             "approved-model pointer (default: $HSCODE_ARTIFACT_BUCKET)")
    common.add_argument("--base-job-prefix", default=DEFAULT_BASE_JOB_PREFIX,
                        help="the pipeline's base job prefix in that bucket (default %(default)s)")

    listing = actions.add_parser("list", parents=[common], help="the versions of a group, oldest first")
    listing.add_argument("--status", choices=STATUSES, help="only versions with this approval status")
    listing.set_defaults(handler=_list)

    describe = actions.add_parser("describe", parents=[common], help="one version in full, with its history")
    describe.add_argument("ref", help="model-package ARN, or version number in --group")
    describe.set_defaults(handler=_describe)

    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = actions.add_parser(name, parents=[common], help=f"{verb} a version, recording who and why")
        decide.add_argument("ref", help="model-package ARN, or version number in --group")
        decide.add_argument("--by", default=_default_user(), help="who decides (default $USER: %(default)s)")
        decide.add_argument("--reason", default="", help="why, kept with the decision")
        decide.set_defaults(handler=_decide, decision=name)

    sync = actions.add_parser("sync-approved", parents=[common],
                              help="rewrite the approved-model pointer the quality gate reads from the registry")
    sync.set_defaults(handler=_sync_approved)


def _default_user() -> str:
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # no user database entry (some containers)
        return "unknown"


def _registry(args):
    if args.backend == "sagemaker":
        return get_registry("sagemaker", region=args.region, artifact_bucket=args.bucket,
                            base_job_prefix=args.base_job_prefix)
    return get_registry("local", base_job_prefix=args.base_job_prefix)


@contextmanager
def _registry_errors() -> Iterator[None]:
    """The registry's refusals in the one CLI error style."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (VersionNotFound, IllegalTransition) as error:
        raise UsageError(str(error)) from error
    except RegistryError as error:
        raise JobFailed(str(error)) from error
    except (BotoCoreError, ClientError) as error:
        raise JobFailed(f"SageMaker Model Registry: {error}; check your AWS credentials and --region") from error


def _metrics_text(metrics: dict[str, float]) -> str:
    return " ".join(metric_text(name, value) for name, value in sorted(metrics.items())) or "-"


def _list(args) -> int:
    with _registry_errors():
        versions = _registry(args).list_versions(args.group)
    if args.status:
        versions = [v for v in versions if v.status == args.status]
    if args.json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return 0
    if not versions:
        print(f"no versions in model package group {args.group!r} ({args.backend} registry)")
        return 0
    rows = [("VERSION", "STATUS", "CREATED", "METRICS", "ARN")]
    rows += [(str(v.version), v.status, v.created.strftime("%Y-%m-%d %H:%M:%S"), _metrics_text(v.metrics), v.arn)
             for v in versions]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _print_version(version: ModelVersion) -> None:
    fields = [
        ("arn", version.arn), ("group", version.group), ("version", version.version),
        ("status", version.status), ("created", version.created.isoformat()),
        ("model data", version.model_data_url), ("sha256", version.checksum),
        ("metrics", _metrics_text(version.metrics)), ("execution id", version.execution_id),
        ("data hash", version.data_hash), ("description", version.description), ("image", version.image_uri),
        ("decision", version.approval_description),
    ]
    for name, value in fields:
        if value not in (None, ""):
            print(f"{name + ':':14}{value}")
    if version.history:
        print("history:")
        for event in version.history:
            move = f"{event.from_status} -> {event.to_status}" if event.from_status else event.to_status
            who = f" by {event.by}" if event.by else ""
            why = f": {event.reason}" if event.reason else ""
            print(f"  {event.at.isoformat()}  {move}{who}{why}")


def _describe(args) -> int:
    with _registry_errors():
        version = _registry(args).describe(args.ref, args.group)
    if args.json:
        print(json.dumps(version.to_dict(), indent=2))
    else:
        _print_version(version)
    return 0


def _decide(args) -> int:
    with _registry_errors():
        registry = _registry(args)
        decide = registry.approve if args.decision == "approve" else registry.reject
        version = decide(args.ref, by=args.by, reason=args.reason, group=args.group)
    if args.json:
        print(json.dumps(version.to_dict(), indent=2))
    else:
        print(f"{version.arn} is now {version.status} ({version.approval_description})")
        if registry.approved_pointer is None:
            print("note: the approved-model pointer the pipeline's quality gate reads was not updated: give --bucket "
                  "(or set HSCODE_ARTIFACT_BUCKET) and run `hscode registry sync-approved --backend sagemaker`")
    return 0


def _sync_approved(args) -> int:
    from pipelines.registry.approved_pointer import describe_pointer

    with _registry_errors():
        registry = _registry(args)
        if registry.approved_pointer is None:
            raise UsageError("give --bucket (or set HSCODE_ARTIFACT_BUCKET): the pointer lives in the pipeline's "
                             "artifact bucket")
        document = registry.sync_approved_pointer(args.group)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(describe_pointer(document, registry.approved_pointer.prefix_uri(args.group)))
    return 0
