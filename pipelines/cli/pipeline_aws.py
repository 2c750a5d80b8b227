"""hscode pipeline definition|upsert|start: a SageMaker pipeline on AWS (the HS-code one unless --module-name).

`definition` needs no AWS account (it builds inside an in-process moto mock when no credentials,
role or bucket are given). `upsert` and `start` talk to SageMaker in --region.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

from pipelines import settings
from pipelines.hs_code import PIPELINE_MODULE
from steps.hsml.cli_errors import UsageError


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
    _add_target_options(start, builds=False)
    start.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="override a pipeline parameter (repeatable, each name once), e.g. --param MaxTuningJobs=4")
    start.add_argument("--display-name", help="execution display name")
    start.add_argument("--wait", action="store_true", help="poll until the execution ends; exit 1 unless it succeeded")
    start.add_argument("--poll-seconds", type=float, default=30.0, help="seconds between polls with --wait")
    start.set_defaults(handler=_start)


def _quiet_sdk() -> None:
    """For the rest of this command: the SDK and botocore log INFO/DEBUG lines (credentials found, instance type
    guessed, fields dropped from the definition) and warn that a PipelineSession starts no job; none of it is news
    here. Warnings and errors of our own, and AWS errors, still show."""
    logging.disable(logging.INFO)
    logging.getLogger("sagemaker").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Running within a PipelineSession")


def _add_target_options(parser: argparse.ArgumentParser, builds: bool = True) -> None:
    env = os.environ.get
    parser.add_argument("--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"),
                        help="AWS region (default: $AWS_REGION, then $AWS_DEFAULT_REGION)")
    parser.add_argument("--role-arn", default=env("SAGEMAKER_PIPELINE_ROLE_ARN"),
                        help="IAM role the pipeline and its jobs run as (default: $SAGEMAKER_PIPELINE_ROLE_ARN)")
    parser.add_argument("--bucket", default=env("HSCODE_ARTIFACT_BUCKET"),
                        help="S3 bucket for code, data and artifacts (default: $HSCODE_ARTIFACT_BUCKET)")
    if not builds:  # start only names the upserted pipeline
        parser.add_argument("--pipeline-name", default=settings.DEFAULT_PIPELINE_NAME)
        return
    parser.add_argument("--module-name", default=PIPELINE_MODULE,
                        help="the pipeline module whose get_pipeline() builds the definition (default: %(default)s)")
    parser.add_argument("--pipeline-name", help="default: the module's get_pipeline() default")
    parser.add_argument("--model-package-group", help="default: the module's get_pipeline() default")
    parser.add_argument("--base-job-prefix", help="S3 key prefix and job name prefix "
                        "(default: the module's get_pipeline() default)")
    parser.add_argument("--job-image", help="image for the processing and training jobs "
                        "(default: SageMaker's TensorFlow training CPU image; see containers/README.md)")
    parser.add_argument("--serving-image", help="image for the registered model (default: TensorFlow Serving 2.20 CPU)")


def _pipeline_options(args) -> dict:
    return {k: v for k, v in {"job_image": args.job_image, "serving_image": args.serving_image}.items() if v}


def _module_and_names(args):
    """The pipeline module and its names (the flags given, else its get_pipeline() defaults)."""
    from pipelines.local.pipeline_module import PipelineModule

    module = PipelineModule.load(args.module_name)
    return module, module.naming(pipeline_name=args.pipeline_name, model_package_group_name=args.model_package_group,
                                 base_job_prefix=args.base_job_prefix)


def _missing_target(args, needed=("region", "role_arn", "bucket")) -> list[str]:
    flags = {"region": "--region or $AWS_REGION", "role_arn": "--role-arn or $SAGEMAKER_PIPELINE_ROLE_ARN",
             "bucket": "--bucket or $HSCODE_ARTIFACT_BUCKET"}
    return [flags[name] for name in needed if not getattr(args, name)]


def _has_credentials(region: str | None) -> bool:
    import boto3

    return boto3.Session(region_name=region).get_credentials() is not None


def _definition(args) -> int:
    _quiet_sdk()
    module, names = _module_and_names(args)
    offline = args.offline or _missing_target(args) or not _has_credentials(args.region)
    if offline:
        from pipelines.local.offline import build_offline

        print("building offline (moto mock, dummy account/role/bucket)", file=sys.stderr)
        overrides = {k: v for k, v in {"region": args.region, "role": args.role_arn,
                                        "default_bucket": args.bucket}.items() if v}
        text = build_offline(module, **overrides, **names, **_pipeline_options(args)).definition
    else:
        import boto3
        from sagemaker.core.workflow.pipeline_context import PipelineSession

        session = PipelineSession(boto_session=boto3.Session(region_name=args.region), default_bucket=args.bucket)
        text = module.get_pipeline(region=args.region, role=args.role_arn, default_bucket=args.bucket,
                                   sagemaker_session=session, **names, **_pipeline_options(args)).definition()
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
        raise UsageError(f"upsert needs {', '.join(missing)}")
    from pipelines.hs_code import aws

    module, names = _module_and_names(args)
    target = aws.AwsTarget(region=args.region, role_arn=args.role_arn, bucket=args.bucket,
                           pipeline_name=names["pipeline_name"], model_package_group=names["model_package_group_name"],
                           base_job_prefix=names["base_job_prefix"])
    print(f"upserting pipeline {target.pipeline_name} ({module.name}) in {args.region} ...", file=sys.stderr)
    result = aws.upsert(target, module, stage_data=args.stage_data, **_pipeline_options(args))
    if result["CreatedModelPackageGroup"]:
        print(f"created model package group {target.model_package_group}", file=sys.stderr)
    for uri in result["StagedData"]:
        print(f"staged {uri}", file=sys.stderr)
    print(result["PipelineArn"])
    return 0


def _start(args) -> int:
    _quiet_sdk()
    from pipelines.hs_code import aws
    from pipelines.parameters import parse_assignments

    parse_assignments(args.param)  # a malformed --param fails before any AWS call
    missing = _missing_target(args, needed=("region",))
    if missing:
        raise UsageError(f"start needs {', '.join(missing)}")
    import boto3

    client = boto3.Session(region_name=args.region).client("sagemaker")
    arn = aws.start(client, args.pipeline_name, args.param, display_name=args.display_name)
    print(arn)
    if not args.wait:
        return 0
    print("waiting for the execution to end ...", file=sys.stderr)
    described = aws.wait(client, arn, poll_seconds=args.poll_seconds,
                         report=lambda line: print(line, file=sys.stderr))
    status = described["PipelineExecutionStatus"]
    reason = f": {described['FailureReason']}" if described.get("FailureReason") else ""
    if status != "Succeeded":
        from steps.hsml.cli_errors import JobFailed

        raise JobFailed(f"execution {arn} {status}{reason}; see its steps in SageMaker Studio or "
                        "`aws sagemaker list-pipeline-execution-steps`")
    print(f"execution {status}", file=sys.stderr)
    return 0
