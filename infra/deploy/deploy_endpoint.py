"""Deploy, smoke-test, or route traffic to a SageMaker serverless endpoint from an approved model package.

Run by infra/deploy/buildspec.yml in the deploy CodePipeline (stack infra/deploy-on-approval.yml):

    python infra/deploy/deploy_endpoint.py deploy --stage staging     # latest Approved package of the group
    python infra/deploy/deploy_endpoint.py smoke  --stage staging
    python infra/deploy/deploy_endpoint.py deploy --stage prod --model-package-arn ARN   # what staging tested
    python infra/deploy/deploy_endpoint.py smoke  --stage prod --variant challenger
    python infra/deploy/deploy_endpoint.py route  --stage prod --variant challenger --model-package-arn ARN

Prod is two serverless endpoints behind the router (infra/serving.yml): the champion and the challenger. The first
approved model becomes the champion (weight 1); every later one is deployed as the challenger, and `route` gives
it the configured weight (ChallengerWeight) once its smoke test passed. The champion stays: promoting the
challenger is the A/B decision's job. While the challenger endpoint is replaced it gets no traffic (weight 0),
and the router's deployed-variants parameter forgets the old model, so no answer is captured under the wrong
version.

The scheduled drift check (pipelines/monitoring/pipeline.py, DriftCheck) needs the model each variant serves:
`route` copies the package's model.tar.gz (+ model.json naming it) to <monitoring models prefix>/<variant>/ before
the variant gets traffic, and replacing the challenger deletes its copy with its recorded model. This is the one
place that knows what each variant serves; an A/B promotion only moves weights (the variants keep their models),
which is why the check reads every variant, not a single "champion" pointer. `route` also writes an empty seed
object under the capture and ground-truth prefixes: SageMaker Processing fails a job whose S3 input prefix holds
no object, and before the brokers' first feedback the ground-truth prefix would be empty.

Thin on purpose (boto3 only, no project imports, so the deploy build installs nothing else). Settings come from
arguments or the environment variables the CodeBuild project sets (HSCODE_MODEL_PACKAGE_GROUP,
SAGEMAKER_EXECUTION_ROLE_ARN, HSCODE_ENDPOINT_PREFIX, HSCODE_SERVERLESS_MEMORY_MB,
HSCODE_SERVERLESS_MAX_CONCURRENCY, HSCODE_CHAMPION_ENDPOINT, HSCODE_CHALLENGER_ENDPOINT, HSCODE_CHALLENGER_WEIGHT,
HSCODE_WEIGHTS_PARAMETER, HSCODE_DEPLOYED_VARIANTS_PARAMETER, HSCODE_MONITORING_MODELS_URI, HSCODE_CAPTURE_URI,
HSCODE_GROUND_TRUTH_URI, DEPLOY_VARIANT, AWS_REGION).
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
VARIANTS = ("champion", "challenger")
ACCEPT_THRESHOLD = "metric.accept_threshold"  # how the Register step stores it (pipelines/registry/request.py)
PARENT_THRESHOLDS = ("accept_threshold_hs4", "accept_threshold_hs2")  # optional: versions registered before them lack them
SEED_OBJECT = "_monitoring-seed"  # pipelines/monitoring/drift.py SEED_OBJECT (tests/infra keep them equal)


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


def package_facts(package: dict) -> dict:
    """What the router records of a deployed package: ARN, registry version and the model's accept threshold,
    plus the heading and chapter thresholds (accept_threshold_hs4/_hs2) when the version was registered with them,
    so the router can answer at the level the model is sure of (docs/predictions.md)."""
    metadata = package.get("CustomerMetadataProperties") or {}
    facts = {"model_package_arn": package["ModelPackageArn"], "model_version": str(package["ModelPackageVersion"]),
             "accept_threshold": _threshold(metadata.get(ACCEPT_THRESHOLD))}
    for key in PARENT_THRESHOLDS:
        value = _threshold(metadata.get(f"metric.{key}"))
        if value is not None:
            facts[key] = value
    return facts


def _threshold(text) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None  # the router then answers "review" for everything this model says


class RoutingParameters:
    """The router's two SSM parameters (infra/serving.yml): the weights and what each variant serves."""

    def __init__(self, ssm, weights_name: str, deployed_name: str):
        self.ssm, self.weights_name, self.deployed_name = ssm, weights_name, deployed_name

    def _read(self, name: str) -> dict:
        try:
            value = json.loads(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                raise DeployError(f"SSM parameter {name} not found: create the serving stack (infra/serving.yml) "
                                  "with the same ProjectName and Environment first") from None
            raise
        except ValueError:
            raise DeployError(f"SSM parameter {name} does not hold JSON: fix or rewrite it") from None
        if not isinstance(value, dict):
            raise DeployError(f"SSM parameter {name} holds {type(value).__name__}, not a JSON object")
        return value

    def _write(self, name: str, value: dict) -> None:
        text = json.dumps(value, sort_keys=True)
        self.ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True)
        print(f"{name} = {text}", flush=True)

    def weights(self) -> dict:
        return self._read(self.weights_name)

    def deployed(self) -> dict:
        return self._read(self.deployed_name)

    def drain(self, variant: str) -> None:
        """No traffic to `variant` and no model recorded for it: its endpoint is about to be replaced."""
        weights = {name: float(weight) for name, weight in self.weights().items()}
        if weights.get(variant):
            weights[variant] = 0.0
            if not any(weights.values()):
                raise DeployError(f"draining {variant} would leave no variant with traffic ({weights})")
            self._write(self.weights_name, weights)
        deployed = self.deployed()
        if deployed.pop(variant, None) is not None:
            self._write(self.deployed_name, deployed)

    def route(self, variant: str, facts: dict, challenger_weight: float) -> dict:
        """Record what `variant` serves, then give it its traffic; returns the weights."""
        deployed = self.deployed()
        deployed[variant] = facts
        self._write(self.deployed_name, deployed)  # first, so no answer of the new model gets the old version
        if variant == "champion":
            weights = {"champion": 1.0, "challenger": 0.0}
        else:
            weights = {"champion": round(1.0 - challenger_weight, 6), "challenger": challenger_weight}
        self._write(self.weights_name, weights)
        return weights


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise DeployError(f"{uri!r} is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def model_data_url(package: dict) -> str:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not containers[0].get("ModelDataUrl"):
        raise DeployError(f"{package['ModelPackageArn']} names no ModelDataUrl: it was not registered by the "
                          "training pipeline's Register step")
    return containers[0]["ModelDataUrl"]


class MonitoringCopies:
    """What the scheduled drift check reads: <models_uri><variant>/model.tar.gz + model.json, and the seeds."""

    def __init__(self, s3, models_uri: str, seed_prefixes: list[str]):
        self.s3, self.models_uri, self.seed_prefixes = s3, models_uri.rstrip("/") + "/", seed_prefixes

    def _key(self, variant: str, name: str) -> tuple[str, str]:
        return split_s3_uri(f"{self.models_uri}{variant}/{name}")

    def publish(self, variant: str, package: dict) -> str:
        """Copy the package's model.tar.gz to the variant's folder (server side) and write model.json."""
        source_bucket, source_key = split_s3_uri(model_data_url(package))
        bucket, key = self._key(variant, "model.tar.gz")
        self.s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key})
        facts = {**package_facts(package), "variant": variant, "model_data_url": model_data_url(package)}
        bucket, info_key = self._key(variant, "model.json")
        self.s3.put_object(Bucket=bucket, Key=info_key, Body=json.dumps(facts, indent=2, sort_keys=True).encode(),
                           ContentType="application/json")
        for prefix in self.seed_prefixes:
            seed_bucket, seed_key = split_s3_uri(prefix.rstrip("/") + "/" + SEED_OBJECT)
            self.s3.put_object(Bucket=seed_bucket, Key=seed_key, Body=b"")
        where = f"{self.models_uri}{variant}/"
        print(f"drift monitoring: {variant}'s model copied to {where}", flush=True)
        return where

    def forget(self, variant: str) -> None:
        """The variant's endpoint is being replaced: the drift check must not judge its traffic by the old model."""
        for name in ("model.tar.gz", "model.json"):
            bucket, key = self._key(variant, name)
            self.s3.delete_object(Bucket=bucket, Key=key)


def prod_variant(sagemaker, champion_endpoint: str) -> str:
    """The variant a newly approved model goes to: champion while there is none, else challenger."""
    return "challenger" if _exists(sagemaker.describe_endpoint, EndpointName=champion_endpoint) else "champion"


def deploy_prod(sagemaker, routing: RoutingParameters, *, group: str, endpoints: dict[str, str], role_arn: str,
                memory_mb: int, max_concurrency: int, package_arn: str | None = None, wait: bool = True,
                monitoring: MonitoringCopies | None = None) -> dict:
    """Deploy the package as the champion (the first time) or as the challenger (the champion stays)."""
    package_arn = package_arn or latest_approved_package(sagemaker, group)
    variant = prod_variant(sagemaker, endpoints["champion"])
    if variant == "challenger":
        champion = routing.deployed().get("champion", {})
        if champion.get("model_package_arn") == package_arn:
            raise DeployError(f"{package_arn} is already the champion ({endpoints['champion']}): nothing to "
                              "deploy as challenger")
        routing.drain("challenger")
        if monitoring is not None:
            monitoring.forget("challenger")
    print(f"prod: deploying as the {variant}", flush=True)
    result = deploy(sagemaker, group=group, endpoint_name=endpoints[variant], role_arn=role_arn, memory_mb=memory_mb,
                    max_concurrency=max_concurrency, package_arn=package_arn, wait=wait)
    return {**result, "variant": variant}


def route(sagemaker, routing: RoutingParameters, *, group: str, endpoints: dict[str, str], variant: str,
          package_arn: str, challenger_weight: float, monitoring: MonitoringCopies | None = None) -> dict:
    """Send the variant its traffic, once its endpoint is in service with exactly this package (and, with
    `monitoring`, once the drift check has its model)."""
    if not 0.0 <= challenger_weight <= 1.0:
        raise DeployError(f"challenger weight {challenger_weight} is not between 0 and 1")
    package = approved_package(sagemaker, group, package_arn)
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoints[variant])
    expected = resource_name(endpoints[variant], package)
    if endpoint["EndpointStatus"] != "InService" or endpoint["EndpointConfigName"] != expected:
        raise DeployError(f"endpoint {endpoints[variant]} is {endpoint['EndpointStatus']} with config "
                          f"{endpoint['EndpointConfigName']}, not InService with {expected}: re-run the deploy action")
    if monitoring is not None:
        monitoring.publish(variant, package)
    weights = routing.route(variant, package_facts(package), challenger_weight)
    print(f"prod: {variant} serves {package_arn}; weights {weights}", flush=True)
    return {"variant": variant, "model_package_arn": package_arn, "weights": weights}


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
    parser.add_argument("action", choices=["deploy", "smoke", "route"])
    parser.add_argument("--stage", required=True, choices=["staging", "prod"])
    parser.add_argument("--model-package-group", default=env("HSCODE_MODEL_PACKAGE_GROUP"))
    parser.add_argument("--model-package-arn", default=env("HSCODE_MODEL_PACKAGE_ARN") or None,
                        help="deploy this package (must be Approved); default: the group's latest Approved")
    parser.add_argument("--role-arn", default=env("SAGEMAKER_EXECUTION_ROLE_ARN"))
    parser.add_argument("--endpoint-prefix", default=env("HSCODE_ENDPOINT_PREFIX"),
                        help="staging's endpoint is <prefix>-staging; prod's default to <prefix>-prod-<variant>")
    parser.add_argument("--variant", choices=VARIANTS, default=env("DEPLOY_VARIANT") or None,
                        help="prod smoke/route: the variant the deploy action chose (DEPLOY_VARIANT)")
    parser.add_argument("--champion-endpoint", default=env("HSCODE_CHAMPION_ENDPOINT"))
    parser.add_argument("--challenger-endpoint", default=env("HSCODE_CHALLENGER_ENDPOINT"))
    parser.add_argument("--challenger-weight", type=float, default=env("HSCODE_CHALLENGER_WEIGHT", "0.1"),
                        help="route: the challenger's share of traffic (default 0.1)")
    parser.add_argument("--weights-parameter", default=env("HSCODE_WEIGHTS_PARAMETER"))
    parser.add_argument("--deployed-variants-parameter", default=env("HSCODE_DEPLOYED_VARIANTS_PARAMETER"))
    parser.add_argument("--monitoring-models-uri", default=env("HSCODE_MONITORING_MODELS_URI") or None,
                        help="prod: where each variant's model is copied for the drift check (s3://.../)")
    parser.add_argument("--capture-uri", default=env("HSCODE_CAPTURE_URI") or None,
                        help="prod route: the capture prefix to seed (the monitoring job's input)")
    parser.add_argument("--ground-truth-uri", default=env("HSCODE_GROUND_TRUTH_URI") or None,
                        help="prod route: the ground-truth prefix to seed (the monitoring job's input)")
    parser.add_argument("--memory-mb", type=int, default=int(env("HSCODE_SERVERLESS_MEMORY_MB", "2048")))
    parser.add_argument("--max-concurrency", type=int, default=int(env("HSCODE_SERVERLESS_MAX_CONCURRENCY", "5")))
    parser.add_argument("--region", default=env("AWS_REGION") or env("AWS_DEFAULT_REGION"))
    parser.add_argument("--no-wait", action="store_true", help="return before the endpoint is InService")
    parser.add_argument("--output", type=Path, default=Path("deployment.json"),
                        help="deploy writes what it deployed here (the buildspec exports the package ARN from it)")
    args = parser.parse_args(argv)
    if args.variant is not None and args.variant not in VARIANTS:
        parser.error(f"DEPLOY_VARIANT={args.variant!r}: expected one of {', '.join(VARIANTS)}")
    required = {"--endpoint-prefix (HSCODE_ENDPOINT_PREFIX)": args.endpoint_prefix, "--region (AWS_REGION)": args.region}
    if args.action in ("deploy", "route"):
        required["--model-package-group (HSCODE_MODEL_PACKAGE_GROUP)"] = args.model_package_group
    if args.action == "deploy":
        required["--role-arn (SAGEMAKER_EXECUTION_ROLE_ARN)"] = args.role_arn
    if args.stage == "prod":
        if args.action in ("deploy", "route"):
            required.update({"--weights-parameter (HSCODE_WEIGHTS_PARAMETER)": args.weights_parameter,
                             "--deployed-variants-parameter (HSCODE_DEPLOYED_VARIANTS_PARAMETER)":
                                 args.deployed_variants_parameter})
        if args.action in ("smoke", "route"):
            required["--variant (DEPLOY_VARIANT)"] = args.variant
        if args.action == "route":
            required["--model-package-arn (HSCODE_MODEL_PACKAGE_ARN)"] = args.model_package_arn
    elif args.action == "route":
        parser.error("route is for --stage prod only: staging serves no traffic")
    missing = [name for name, value in required.items() if not value]
    if missing:
        parser.error("missing " + ", ".join(missing) + " (the deploy stack's CodeBuild project sets them)")
    return args


def prod_endpoints(args: argparse.Namespace) -> dict[str, str]:
    return {"champion": args.champion_endpoint or f"{args.endpoint_prefix}-prod-champion",
            "challenger": args.challenger_endpoint or f"{args.endpoint_prefix}-prod-challenger"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    endpoints, staging = prod_endpoints(args), f"{args.endpoint_prefix}-staging"
    try:
        if args.action == "smoke":
            endpoint = staging if args.stage == "staging" else endpoints[args.variant]
            codes = smoke_test(boto3.client("sagemaker-runtime", region_name=args.region), endpoint)
            print(f"smoke test passed: {codes}")
            return 0
        sagemaker = boto3.client("sagemaker", region_name=args.region)
        routing = RoutingParameters(boto3.client("ssm", region_name=args.region), args.weights_parameter,
                                    args.deployed_variants_parameter)
        monitoring = None
        if args.stage == "prod" and args.monitoring_models_uri:
            monitoring = MonitoringCopies(boto3.client("s3", region_name=args.region), args.monitoring_models_uri,
                                          [uri for uri in (args.capture_uri, args.ground_truth_uri) if uri])
        elif args.stage == "prod":
            print("warning: no HSCODE_MONITORING_MODELS_URI: the drift check gets no copy of this model",
                  file=sys.stderr, flush=True)
        if args.stage == "staging":
            result = deploy(sagemaker, group=args.model_package_group, endpoint_name=staging,
                            role_arn=args.role_arn, memory_mb=args.memory_mb, max_concurrency=args.max_concurrency,
                            package_arn=args.model_package_arn, wait=not args.no_wait)
        elif args.action == "deploy":
            result = deploy_prod(sagemaker, routing, group=args.model_package_group, endpoints=endpoints,
                                 role_arn=args.role_arn, memory_mb=args.memory_mb,
                                 max_concurrency=args.max_concurrency, package_arn=args.model_package_arn,
                                 wait=not args.no_wait, monitoring=monitoring)
        else:
            result = route(sagemaker, routing, group=args.model_package_group, endpoints=endpoints,
                           variant=args.variant, package_arn=args.model_package_arn,
                           challenger_weight=args.challenger_weight, monitoring=monitoring)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
