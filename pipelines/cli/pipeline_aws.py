"""hscode pipeline definition|upsert|start: the SageMaker pipeline on AWS.

`definition` needs no AWS account (it builds inside an in-process moto mock when no credentials,
role or bucket are given). `upsert` and `start` talk to SageMaker in --region.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from pipelines import settings

DEFAULT_BASE_JOB_PREFIX = "hs-code"


def register(subparsers) -> None:
    definition = subparsers.add_parser(
        "definition", help="print the pipeline definition JSON (offline unless AWS credentials, role and bucket are set)")
    _add_target_options(definition)
    definition.add_argument("--offline", action="store_true",
                            help="always build inside a moto mock, with a dummy account, role and bucket")
    definition.add_argument("--pretty", action="store_true", help="indent the JSON (the exact definition otherwise)")
    definition.add_argument("--output", "-o", help="write to this file instead of stdout")
    definition.set_defaults(handler=_definition)

    upsert = subparsers.add_parser(
        "upsert", help="create or update the pipeline in SageMaker (and its model package group, and the bundled data)")
    _add_target_options(upsert)
    upsert.add_argument("--no-stage-data", dest="stage_data", action="store_false",
                        help="do not upload the bundled dataset to the default InputDataUri/ReferenceDataUri")
    upsert.set_defaults(handler=_upsert)

    start = subparsers.add_parser("start", help="start an execution of the upserted pipeline")
    _add_target_options(start)
    start.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override a pipeline parameter (repeatable), e.g. --param MaxTuningJobs=4")
    start.add_argument("--display-name", help="execution display name")
    start.add_argument("--wait", action="store_true", help="poll until the execution ends; exit 1 unless it succeeded")
    start.add_argument("--poll-seconds", type=float, default=30.0, help="seconds between polls with --wait")
    start.set_defaults(handler=_start)


def _quiet_sdk() -> None:
    # The SDK logs a warning for every field it drops from the definition; they are expected here.
    logging.getLogger("sagemaker").setLevel(logging.ERROR)


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
                        help="AWS region (default: $AWS_REGION, then $AWS_DEFAULT_REGION)")
    parser.add_argument("--role-arn", default=env("SAGEMAKER_PIPELINE_ROLE_ARN"),
                        help="IAM role the pipeline and its jobs run as (default: $SAGEMAKER_PIPELINE_ROLE_ARN)")
    parser.add_argument("--bucket", default=env("HSCODE_ARTIFACT_BUCKET"),
                        help="S3 bucket for code, data and artifacts (default: $HSCODE_ARTIFACT_BUCKET)")
    parser.add_argument("--pipeline-name", default=settings.DEFAULT_PIPELINE_NAME)
    parser.add_argument("--model-package-group", default=settings.DEFAULT_MODEL_PACKAGE_GROUP)
    parser.add_argument("--base-job-prefix", default=DEFAULT_BASE_JOB_PREFIX,
                        help="S3 key prefix and job name prefix (default: %(default)s)")
    parser.add_argument("--job-image", help="image for the processing and training jobs "
                        "(default: SageMaker's TensorFlow training CPU image; see containers/README.md)")
    parser.add_argument("--serving-image", help="image for the registered model (default: TensorFlow Serving 2.20 CPU)")


def _pipeline_options(args) -> dict:
    return {k: v for k, v in {"job_image": args.job_image, "serving_image": args.serving_image}.items() if v}


def _missing_target(args, needed=("region", "role_arn", "bucket")) -> list[str]:
    flags = {"region": "--region or $AWS_REGION", "role_arn": "--role-arn or $SAGEMAKER_PIPELINE_ROLE_ARN",
             "bucket": "--bucket or $HSCODE_ARTIFACT_BUCKET"}
    return [flags[name] for name in needed if not getattr(args, name)]


def _has_credentials(region: str | None) -> bool:
    import boto3

    return boto3.Session(region_name=region).get_credentials() is not None


def _target(args):
    from pipelines.hs_code.aws import AwsTarget

    return AwsTarget(region=args.region, role_arn=args.role_arn, bucket=args.bucket, pipeline_name=args.pipeline_name,
                     model_package_group=args.model_package_group, base_job_prefix=args.base_job_prefix)


def _definition(args) -> int:
    _quiet_sdk()
    offline = args.offline or _missing_target(args) or not _has_credentials(args.region)
    common = dict(model_package_group_name=args.model_package_group, pipeline_name=args.pipeline_name,
                  base_job_prefix=args.base_job_prefix, **_pipeline_options(args))
    if offline:
        from pipelines.hs_code.offline import build_definition_offline

        print("building offline (moto mock, dummy account/role/bucket)", file=sys.stderr)
        overrides = {k: v for k, v in {"region": args.region, "role": args.role_arn,
                                        "default_bucket": args.bucket}.items() if v}
        text = build_definition_offline(**overrides, **common)
    else:
        import boto3
        from sagemaker.core.workflow.pipeline_context import PipelineSession

        from pipelines.hs_code.pipeline import get_pipeline

        session = PipelineSession(boto_session=boto3.Session(region_name=args.region), default_bucket=args.bucket)
        text = get_pipeline(region=args.region, role=args.role_arn, default_bucket=args.bucket,
                            sagemaker_session=session, **common).definition()
    if args.pretty:
        text = json.dumps(json.loads(text), indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def _upsert(args) -> int:
    _quiet_sdk()
    missing = _missing_target(args)
    if missing:
        print(f"error: upsert needs {', '.join(missing)}", file=sys.stderr)
        return 2
    from pipelines.hs_code import aws

    print(f"upserting pipeline {args.pipeline_name} in {args.region} ...", file=sys.stderr)
    result = aws.upsert(_target(args), stage_data=args.stage_data, **_pipeline_options(args))
    if result["CreatedModelPackageGroup"]:
        print(f"created model package group {args.model_package_group}", file=sys.stderr)
    for uri in result["StagedData"]:
        print(f"staged {uri}", file=sys.stderr)
    print(result["PipelineArn"])
    return 0


def _start(args) -> int:
    _quiet_sdk()
    from pipelines.hs_code import aws

    try:
        aws.parse_param_assignments(args.param)  # a malformed --param fails before any AWS call
    except aws.ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = _missing_target(args, needed=("region",))
    if missing:
        print(f"error: start needs {', '.join(missing)}", file=sys.stderr)
        return 2
    import boto3

    client = boto3.Session(region_name=args.region).client("sagemaker")
    try:
        arn = aws.start(client, args.pipeline_name, args.param, display_name=args.display_name)
    except aws.ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except LookupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(arn)
    if not args.wait:
        return 0
    print("waiting for the execution to end ...", file=sys.stderr)
    described = aws.wait(client, arn, poll_seconds=args.poll_seconds,
                         report=lambda line: print(line, file=sys.stderr))
    status = described["PipelineExecutionStatus"]
    reason = f": {described['FailureReason']}" if described.get("FailureReason") else ""
    print(f"execution {status}{reason}", file=sys.stderr)
    return 0 if status == "Succeeded" else 1
