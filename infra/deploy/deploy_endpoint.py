"""Deploy, or smoke-test, a SageMaker serverless endpoint from an approved model package.

Run by infra/deploy/buildspec.yml in the deploy CodePipeline (stack infra/deploy-on-approval.yml):

    python infra/deploy/deploy_endpoint.py deploy --stage staging     # latest Approved package of the group
    python infra/deploy/deploy_endpoint.py smoke  --stage staging
    python infra/deploy/deploy_endpoint.py deploy --stage prod --model-package-arn ARN   # what staging tested

Thin on purpose (boto3 only, no project imports, so the deploy build installs nothing else): the serving
work replaces the smoke-test payload and may add traffic shifting. Settings come from arguments or the
environment variables the CodeBuild project sets (HSCODE_MODEL_PACKAGE_GROUP, SAGEMAKER_EXECUTION_ROLE_ARN,
HSCODE_ENDPOINT_PREFIX, HSCODE_SERVERLESS_MEMORY_MB, HSCODE_SERVERLESS_MAX_CONCURRENCY, AWS_REGION).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

# Real product descriptions of three unrelated chapters: a working classifier returns HS codes for all.
SMOKE_SAMPLES = [
    "men's cotton knitted t-shirt",
    "fresh apples",
    "lithium-ion battery for a laptop",
]
HS6_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


class DeployError(Exception):
    """A deployment that cannot go on; the message says what to do."""


def latest_approved_package(sagemaker, group: str) -> str:
    """ARN of the newest Approved model package of the group."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    packages = response["ModelPackageSummaryList"]
    if not packages:
        raise DeployError(
            f"model package group {group!r} has no Approved package: approve one "
            "(aws sagemaker update-model-package --model-package-arn ARN --model-approval-status Approved)"
        )
    return packages[0]["ModelPackageArn"]


def approved_package(sagemaker, group: str, package_arn: str) -> dict:
    """Describe a pinned package and refuse one that is not Approved or not in the group."""
    package = sagemaker.describe_model_package(ModelPackageName=package_arn)
    if package.get("ModelPackageGroupName") != group:
        raise DeployError(f"{package_arn} belongs to group {package.get('ModelPackageGroupName')!r}, not {group!r}")
    if package.get("ModelApprovalStatus") != "Approved":
        raise DeployError(
            f"{package_arn} is {package.get('ModelApprovalStatus')!r}, not Approved: it was probably "
            "rejected after staging passed; approve it again or re-run the deploy pipeline"
        )
    return package


def resource_name(endpoint_name: str, package: dict) -> str:
    """Model and endpoint-config name: one per endpoint and package version, so a redeploy reuses them."""
    return f"{endpoint_name}-v{package['ModelPackageVersion']}"[:63]


def _exists(describe, **kwargs) -> bool:
    try:
        describe(**kwargs)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
            return False
        raise


def deploy(sagemaker, *, group: str, endpoint_name: str, role_arn: str, memory_mb: int, max_concurrency: int,
           package_arn: str | None = None, wait: bool = True) -> dict:
    """Create or update `endpoint_name` to serve the package; returns what was deployed."""
    package_arn = package_arn or latest_approved_package(sagemaker, group)
    package = approved_package(sagemaker, group, package_arn)
    name = resource_name(endpoint_name, package)
    tags = [{"Key": "ModelPackageArn", "Value": package_arn}]
    print(f"deploying {package_arn} to endpoint {endpoint_name} (model and config {name})", flush=True)

    if not _exists(sagemaker.describe_model, ModelName=name):
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"ModelPackageName": package_arn},
            ExecutionRoleArn=role_arn,
            Tags=tags,
        )
    if not _exists(sagemaker.describe_endpoint_config, EndpointConfigName=name):
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{
                "VariantName": "AllTraffic",
                "ModelName": name,
                "ServerlessConfig": {"MemorySizeInMB": memory_mb, "MaxConcurrency": max_concurrency},
            }],
            Tags=tags,
        )
    if _exists(sagemaker.describe_endpoint, EndpointName=endpoint_name):
        action = "updated"
        sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName=name)
    else:
        action = "created"
        sagemaker.create_endpoint(EndpointName=endpoint_name, EndpointConfigName=name, Tags=tags)
    if wait:
        print(f"waiting for {endpoint_name} to be InService (serverless endpoints take a few minutes)", flush=True)
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=endpoint_name, WaiterConfig={"Delay": 30, "MaxAttempts": 60}
        )
    status = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointStatus"]
    print(f"endpoint {endpoint_name} {action}: {status}", flush=True)
    return {"endpoint": endpoint_name, "model_package_arn": package_arn, "endpoint_config": name,
            "action": action, "status": status}


def hs_codes_in(body: bytes) -> list[str]:
    """Every 6-digit code in a response body, whatever its JSON layout."""
    return HS6_CODE.findall(body.decode("utf-8", errors="replace"))


def smoke_test(runtime, endpoint_name: str, samples: list[str] = SMOKE_SAMPLES) -> list[str]:
    """Invoke the endpoint with real descriptions (TF Serving's {"instances": [...]}); expect HS6 codes back."""
    response = runtime.invoke_endpoint(
        EndpointName=endpoint_name,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"instances": samples}).encode(),
    )
    body = response["Body"].read()
    print(f"smoke test {endpoint_name}: {body[:500]!r}", flush=True)
    codes = hs_codes_in(body)
    if len(codes) < len(samples):
        raise DeployError(
            f"endpoint {endpoint_name} answered {len(samples)} descriptions with {len(codes)} HS6 codes: "
            "check the model's code/inference.py and the endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/"
            f"{endpoint_name})"
        )
    return codes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["deploy", "smoke"])
    parser.add_argument("--stage", required=True, choices=["staging", "prod"])
    parser.add_argument("--model-package-group", default=env("HSCODE_MODEL_PACKAGE_GROUP"))
    parser.add_argument("--model-package-arn", default=env("HSCODE_MODEL_PACKAGE_ARN") or None,
                        help="deploy this package (must be Approved); default: the group's latest Approved")
    parser.add_argument("--role-arn", default=env("SAGEMAKER_EXECUTION_ROLE_ARN"))
    parser.add_argument("--endpoint-prefix", default=env("HSCODE_ENDPOINT_PREFIX"),
                        help="the endpoint is <prefix>-<stage>")
    parser.add_argument("--memory-mb", type=int, default=int(env("HSCODE_SERVERLESS_MEMORY_MB", "2048")))
    parser.add_argument("--max-concurrency", type=int, default=int(env("HSCODE_SERVERLESS_MAX_CONCURRENCY", "5")))
    parser.add_argument("--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"))
    parser.add_argument("--no-wait", action="store_true", help="return before the endpoint is InService")
    parser.add_argument("--output", type=Path, default=Path("deployment.json"),
                        help="deploy writes what it deployed here (the buildspec exports the package ARN from it)")
    args = parser.parse_args(argv)
    required = {"--endpoint-prefix (HSCODE_ENDPOINT_PREFIX)": args.endpoint_prefix, "--region (AWS_REGION)": args.region}
    if args.action == "deploy":
        required.update({"--model-package-group (HSCODE_MODEL_PACKAGE_GROUP)": args.model_package_group,
                         "--role-arn (SAGEMAKER_EXECUTION_ROLE_ARN)": args.role_arn})
    missing = [name for name, value in required.items() if not value]
    if missing:
        parser.error("missing " + ", ".join(missing) + " (the deploy stack's CodeBuild project sets them)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoint_name = f"{args.endpoint_prefix}-{args.stage}"
    try:
        if args.action == "deploy":
            result = deploy(
                boto3.client("sagemaker", region_name=args.region),
                group=args.model_package_group, endpoint_name=endpoint_name, role_arn=args.role_arn,
                memory_mb=args.memory_mb, max_concurrency=args.max_concurrency,
                package_arn=args.model_package_arn, wait=not args.no_wait,
            )
            args.output.write_text(json.dumps(result, indent=2) + "\n")
        else:
            codes = smoke_test(boto3.client("sagemaker-runtime", region_name=args.region), endpoint_name)
            print(f"smoke test passed: {codes}")
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
