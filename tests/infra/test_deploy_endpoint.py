"""infra/deploy/deploy_endpoint.py against moto's SageMaker and SSM: which package it deploys where, the smoke
check, and the router's weights and deployed variants it writes for prod (champion first, then challenger)."""
from __future__ import annotations

import importlib.util
import json

import boto3
import pytest
from moto import mock_aws

from pipelines.settings import REPO_ROOT

REGION = "us-east-1"
GROUP = "hs-mlops-dev-classifier"
ROLE = "arn:aws:iam::123456789012:role/hs-mlops-dev-sagemaker-execution"
ENDPOINT = "hs-mlops-dev-staging"


def _load_script():
    spec = importlib.util.spec_from_file_location("deploy_endpoint", REPO_ROOT / "infra/deploy/deploy_endpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deploy_endpoint = _load_script()


@pytest.fixture
def sagemaker(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        yield client


def register(client, status: str, group: str = GROUP, accept_threshold: str | None = None) -> str:
    metadata = {"CustomerMetadataProperties": {"metric.accept_threshold": accept_threshold}} if accept_threshold else {}
    return client.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status, **metadata,
        InferenceSpecification={
            "Containers": [{"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.20-cpu",
                            "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"]},
    )["ModelPackageArn"]


def _deploy(client, **kwargs):
    return deploy_endpoint.deploy(client, group=GROUP, endpoint_name=ENDPOINT, role_arn=ROLE, memory_mb=2048,
                                  max_concurrency=5, wait=False, **kwargs)


def test_deploys_the_latest_approved_package_as_a_serverless_endpoint(sagemaker):
    register(sagemaker, "Approved")
    newest_approved = register(sagemaker, "Approved")
    register(sagemaker, "PendingManualApproval")  # newer, but not approved
    register(sagemaker, "Rejected")

    result = _deploy(sagemaker)

    assert result["model_package_arn"] == newest_approved
    assert result["action"] == "created"
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == newest_approved
    assert model["ExecutionRoleArn"] == ROLE


def test_a_pinned_package_must_still_be_approved_and_in_the_group(sagemaker):
    approved = register(sagemaker, "Approved")
    rejected = register(sagemaker, "Rejected")
    assert _deploy(sagemaker, package_arn=approved)["model_package_arn"] == approved
    with pytest.raises(deploy_endpoint.DeployError, match="is 'Rejected', not Approved"):
        _deploy(sagemaker, package_arn=rejected)
    sagemaker.create_model_package_group(ModelPackageGroupName="other-group")
    with pytest.raises(deploy_endpoint.DeployError, match="belongs to group 'other-group'"):
        _deploy(sagemaker, package_arn=register(sagemaker, "Approved", group="other-group"))


def test_no_approved_package_says_how_to_approve(sagemaker):
    register(sagemaker, "PendingManualApproval")
    with pytest.raises(deploy_endpoint.DeployError, match="update-model-package"):
        _deploy(sagemaker)


def test_an_existing_endpoint_is_updated_not_recreated(sagemaker, monkeypatch):
    register(sagemaker, "Approved")
    _deploy(sagemaker)
    newer = register(sagemaker, "Approved")
    updates = []  # moto has no UpdateEndpoint: record the call instead
    monkeypatch.setattr(sagemaker, "update_endpoint", lambda **kwargs: updates.append(kwargs))

    result = _deploy(sagemaker)

    assert result["action"] == "updated" and result["model_package_arn"] == newer
    assert updates == [{"EndpointName": ENDPOINT, "EndpointConfigName": f"{ENDPOINT}-v2"}]
    assert sagemaker.describe_model(ModelName=f"{ENDPOINT}-v2")["PrimaryContainer"]["ModelPackageName"] == newer


class _Runtime:
    """Stands in for sagemaker-runtime (moto's answers are a fixed string): returns a given body."""

    def __init__(self, body: bytes):
        self.body, self.requests = body, []

    def invoke_endpoint(self, **request):
        import io

        self.requests.append(request)
        return {"Body": io.BytesIO(self.body)}


def test_smoke_test_sends_real_descriptions_and_needs_a_code_for_each():
    answer = {"predictions": [[["610910", 0.91]], [["080810", 0.88]], [["850760", 0.7]]]}
    runtime = _Runtime(json.dumps(answer).encode())
    assert deploy_endpoint.smoke_test(runtime, ENDPOINT) == ["610910", "080810", "850760"]
    sent = json.loads(runtime.requests[0]["Body"])
    assert sent == {"instances": deploy_endpoint.SMOKE_SAMPLES}

    with pytest.raises(deploy_endpoint.DeployError, match="3 descriptions with 1 HS6 codes"):
        deploy_endpoint.smoke_test(_Runtime(b'{"predictions": [["610910"]]}'), ENDPOINT)


def test_cli_reports_missing_settings_by_name(monkeypatch, capsys):
    for name in ("HSCODE_ENDPOINT_PREFIX", "HSCODE_MODEL_PACKAGE_GROUP", "SAGEMAKER_EXECUTION_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    with pytest.raises(SystemExit):
        deploy_endpoint.main(["deploy", "--stage", "staging"])
    assert "HSCODE_ENDPOINT_PREFIX" in capsys.readouterr().err


# --- prod: champion and challenger behind the router ---------------------------------------------------------

WEIGHTS, DEPLOYED = "/hs-mlops/dev/serving/weights", "/hs-mlops/dev/serving/deployed-variants"
PROD = {"champion": "hs-mlops-dev-prod-champion", "challenger": "hs-mlops-dev-prod-challenger"}


@pytest.fixture
def routing(sagemaker):
    """The router's two parameters as the serving stack creates them."""
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=WEIGHTS, Value='{"champion": 1.0, "challenger": 0.0}', Type="String")
    ssm.put_parameter(Name=DEPLOYED, Value="{}", Type="String")
    return deploy_endpoint.RoutingParameters(ssm, WEIGHTS, DEPLOYED)


def _prod(client, routing, package_arn):
    deployed = deploy_endpoint.deploy_prod(client, routing, group=GROUP, endpoints=PROD, role_arn=ROLE,
                                           memory_mb=2048, max_concurrency=5, package_arn=package_arn, wait=False)
    routed = deploy_endpoint.route(client, routing, group=GROUP, endpoints=PROD, variant=deployed["variant"],
                                   package_arn=package_arn, challenger_weight=0.1)
    return deployed, routed


def test_the_first_approved_model_becomes_the_champion_with_all_the_traffic(sagemaker, routing):
    first = register(sagemaker, "Approved", accept_threshold="0.62")
    deployed, routed = _prod(sagemaker, routing, first)
    assert (deployed["variant"], deployed["endpoint"]) == ("champion", PROD["champion"])
    assert routed["weights"] == routing.weights() == {"champion": 1.0, "challenger": 0.0}
    assert routing.deployed() == {"champion": {"model_package_arn": first, "model_version": "1",
                                               "accept_threshold": 0.62}}


def test_later_models_are_deployed_as_the_challenger_at_its_weight_and_the_champion_stays(sagemaker, routing):
    first = register(sagemaker, "Approved", accept_threshold="0.62")
    _prod(sagemaker, routing, first)
    second = register(sagemaker, "Approved")  # registered before Evaluate reported a threshold
    deployed, routed = _prod(sagemaker, routing, second)
    assert (deployed["variant"], deployed["endpoint"]) == ("challenger", PROD["challenger"])
    assert routing.weights() == {"champion": 0.9, "challenger": 0.1}
    assert routing.deployed() == {
        "champion": {"model_package_arn": first, "model_version": "1", "accept_threshold": 0.62},
        "challenger": {"model_package_arn": second, "model_version": "2", "accept_threshold": None}}
    champion_endpoint = sagemaker.describe_endpoint(EndpointName=PROD["champion"])
    assert champion_endpoint["EndpointConfigName"] == f"{PROD['champion']}-v1"


def test_a_challenger_being_replaced_gets_no_traffic_and_no_recorded_model(sagemaker, routing, monkeypatch):
    _prod(sagemaker, routing, register(sagemaker, "Approved"))
    _prod(sagemaker, routing, register(sagemaker, "Approved"))
    seen = {}

    def deploy_and_look(*args, **kwargs):  # what the router sees while the endpoint is being replaced
        seen.update(weights=routing.weights(), deployed=set(routing.deployed()))
        return {"endpoint": kwargs["endpoint_name"], "model_package_arn": kwargs["package_arn"]}

    monkeypatch.setattr(deploy_endpoint, "deploy", deploy_and_look)
    third = register(sagemaker, "Approved")
    deploy_endpoint.deploy_prod(sagemaker, routing, group=GROUP, endpoints=PROD, role_arn=ROLE, memory_mb=2048,
                                max_concurrency=5, package_arn=third, wait=False)
    assert seen == {"weights": {"champion": 0.9, "challenger": 0.0}, "deployed": {"champion"}}


def test_the_champions_own_package_is_not_deployed_as_its_challenger(sagemaker, routing):
    first = register(sagemaker, "Approved")
    _prod(sagemaker, routing, first)
    with pytest.raises(deploy_endpoint.DeployError, match="already the champion"):
        _prod(sagemaker, routing, first)
    assert routing.weights() == {"champion": 1.0, "challenger": 0.0}


def test_route_refuses_an_endpoint_that_does_not_serve_the_package(sagemaker, routing):
    _prod(sagemaker, routing, register(sagemaker, "Approved"))
    second = register(sagemaker, "Approved")
    with pytest.raises(deploy_endpoint.DeployError, match="not InService with hs-mlops-dev-prod-champion-v2"):
        deploy_endpoint.route(sagemaker, routing, group=GROUP, endpoints=PROD, variant="champion",
                              package_arn=second, challenger_weight=0.1)
    with pytest.raises(deploy_endpoint.DeployError, match="not between 0 and 1"):
        deploy_endpoint.route(sagemaker, routing, group=GROUP, endpoints=PROD, variant="champion",
                              package_arn=second, challenger_weight=1.5)


def test_without_the_serving_stack_prod_says_to_create_it(sagemaker):
    routing = deploy_endpoint.RoutingParameters(boto3.client("ssm", region_name=REGION), WEIGHTS, DEPLOYED)
    _deploy(sagemaker, package_arn=register(sagemaker, "Approved"))  # some endpoint exists; prod needs the stack
    sagemaker.create_endpoint(EndpointName=PROD["champion"], EndpointConfigName=f"{ENDPOINT}-v1")
    with pytest.raises(deploy_endpoint.DeployError, match="create the serving stack"):
        deploy_endpoint.deploy_prod(sagemaker, routing, group=GROUP, endpoints=PROD, role_arn=ROLE, memory_mb=2048,
                                    max_concurrency=5, package_arn=register(sagemaker, "Approved"), wait=False)


@pytest.mark.parametrize("argv, says", [
    (["route", "--stage", "staging"], "route is for --stage prod only"),
    (["smoke", "--stage", "prod"], "--variant (DEPLOY_VARIANT)"),
    (["route", "--stage", "prod", "--variant", "challenger"], "HSCODE_WEIGHTS_PARAMETER"),
])
def test_cli_refuses_incomplete_prod_actions(monkeypatch, capsys, argv, says):
    for name in ("HSCODE_WEIGHTS_PARAMETER", "HSCODE_DEPLOYED_VARIANTS_PARAMETER", "DEPLOY_VARIANT",
                 "HSCODE_MODEL_PACKAGE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("HSCODE_ENDPOINT_PREFIX", "hs-mlops-dev")
    monkeypatch.setenv("HSCODE_MODEL_PACKAGE_GROUP", GROUP)
    with pytest.raises(SystemExit):
        deploy_endpoint.main(argv)
    assert says in capsys.readouterr().err


def test_cli_prod_deploy_then_route_write_deployment_json_and_the_weights(sagemaker, routing, monkeypatch, tmp_path):
    for name, value in {"AWS_REGION": REGION, "HSCODE_ENDPOINT_PREFIX": "hs-mlops-dev",
                        "HSCODE_MODEL_PACKAGE_GROUP": GROUP, "SAGEMAKER_EXECUTION_ROLE_ARN": ROLE,
                        "HSCODE_WEIGHTS_PARAMETER": WEIGHTS, "HSCODE_DEPLOYED_VARIANTS_PARAMETER": DEPLOYED,
                        "HSCODE_CHALLENGER_WEIGHT": "0.25"}.items():
        monkeypatch.setenv(name, value)
    _prod(sagemaker, routing, register(sagemaker, "Approved"))
    package = register(sagemaker, "Approved")
    out = tmp_path / "deployment.json"
    assert deploy_endpoint.main(["deploy", "--stage", "prod", "--model-package-arn", package, "--no-wait",
                                 "--output", str(out)]) == 0
    deployed = json.loads(out.read_text())
    assert (deployed["variant"], deployed["model_package_arn"]) == ("challenger", package)
    monkeypatch.setenv("DEPLOY_VARIANT", deployed["variant"])
    monkeypatch.setenv("HSCODE_MODEL_PACKAGE_ARN", package)
    assert deploy_endpoint.main(["route", "--stage", "prod", "--output", str(out)]) == 0
    assert routing.weights() == {"champion": 0.75, "challenger": 0.25}


@pytest.mark.parametrize("action, variables, expected", [
    ("deploy", {"DEPLOY_STAGE": "prod"}, "MODEL_PACKAGE_ARN=arn:deployed DEPLOYED_VARIANT=challenger"),
    ("deploy", {"DEPLOY_STAGE": "staging"}, "MODEL_PACKAGE_ARN=arn:deployed DEPLOYED_VARIANT="),
    ("route", {"DEPLOY_STAGE": "prod", "HSCODE_MODEL_PACKAGE_ARN": "arn:tested", "DEPLOY_VARIANT": "challenger"},
     "MODEL_PACKAGE_ARN=arn:tested DEPLOYED_VARIANT=challenger"),
])
def test_the_deploy_buildspec_exports_the_package_and_the_variant(tmp_path, action, variables, expected):
    """The build phase in one bash (as CodeBuild runs it), with a stand-in for the deploy script's AWS work."""
    import os
    import subprocess
    import sys

    import yaml

    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nif [ \"$1\" = infra/deploy/deploy_endpoint.py ]; then\n"
                    f"  variant=$([ \"$3\" = --stage ] && [ \"$4\" = prod ] && echo ', \"variant\": \"challenger\"')\n"
                    f"  echo \"{{\\\"model_package_arn\\\": \\\"arn:deployed\\\"$variant}}\" > deployment.json\n"
                    f"  exit 0\nfi\nexec {sys.executable} \"$@\"\n")
    fake.chmod(0o755)
    commands = yaml.safe_load((REPO_ROOT / "infra/deploy/buildspec.yml").read_text())["phases"]["build"]["commands"]
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}", "DEPLOY_ACTION": action, **variables}
    result = subprocess.run(["bash", "-ec", "\n".join(commands)], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


# --- the drift check's copies: each routed variant's model, and the seeds of the monitoring job's inputs ---------

MODELS_URI = "s3://hs-mlops-dev-artifacts/monitoring/deployed/"
SEEDS = ["s3://hs-mlops-dev-capture/capture/", "s3://hs-mlops-dev-capture/ground-truth/"]


@pytest.fixture
def monitoring(sagemaker):
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in ("bucket", "hs-mlops-dev-artifacts", "hs-mlops-dev-capture"):
        s3.create_bucket(Bucket=bucket)
    return deploy_endpoint.MonitoringCopies(s3, MODELS_URI, SEEDS)


def _keys(s3, bucket: str) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_routing_copies_each_variants_model_for_the_drift_check_and_seeds_its_inputs(sagemaker, routing, monitoring):
    s3 = monitoring.s3
    s3.put_object(Bucket="bucket", Key="model.tar.gz", Body=b"model one")  # every registered package's ModelDataUrl

    def prod(package):
        deployed = deploy_endpoint.deploy_prod(sagemaker, routing, group=GROUP, endpoints=PROD, role_arn=ROLE,
                                               memory_mb=2048, max_concurrency=5, package_arn=package, wait=False,
                                               monitoring=monitoring)
        deploy_endpoint.route(sagemaker, routing, group=GROUP, endpoints=PROD, variant=deployed["variant"],
                              package_arn=package, challenger_weight=0.1, monitoring=monitoring)

    first = register(sagemaker, "Approved", accept_threshold="0.6")
    prod(first)
    assert _keys(s3, "hs-mlops-dev-artifacts") == {"monitoring/deployed/champion/model.tar.gz",
                                                   "monitoring/deployed/champion/model.json"}
    copied = s3.get_object(Bucket="hs-mlops-dev-artifacts", Key="monitoring/deployed/champion/model.tar.gz")
    assert copied["Body"].read() == b"model one"
    facts = json.loads(s3.get_object(Bucket="hs-mlops-dev-artifacts",
                                     Key="monitoring/deployed/champion/model.json")["Body"].read())
    assert facts["model_package_arn"] == first and facts["model_version"] == "1" and facts["variant"] == "champion"
    assert _keys(s3, "hs-mlops-dev-capture") == {"capture/_monitoring-seed", "ground-truth/_monitoring-seed"}

    prod(register(sagemaker, "Approved"))
    assert "monitoring/deployed/challenger/model.tar.gz" in _keys(s3, "hs-mlops-dev-artifacts")

    # Replacing the challenger forgets its copy (as the router forgets its model) until the new one is routed.
    monkey_deploy = deploy_endpoint.deploy
    try:
        deploy_endpoint.deploy = lambda *a, **k: {"endpoint": k["endpoint_name"], "model_package_arn": k["package_arn"]}
        deploy_endpoint.deploy_prod(sagemaker, routing, group=GROUP, endpoints=PROD, role_arn=ROLE, memory_mb=2048,
                                    max_concurrency=5, package_arn=register(sagemaker, "Approved"), wait=False,
                                    monitoring=monitoring)
    finally:
        deploy_endpoint.deploy = monkey_deploy
    assert _keys(s3, "hs-mlops-dev-artifacts") == {"monitoring/deployed/champion/model.tar.gz",
                                                   "monitoring/deployed/champion/model.json"}


def test_the_seed_object_is_the_one_the_drift_job_skips():
    from pipelines.monitoring.drift import SEED_OBJECT

    assert deploy_endpoint.SEED_OBJECT == SEED_OBJECT


def test_the_router_learns_the_heading_and_chapter_thresholds_when_the_version_has_them():
    package_facts = deploy_endpoint.package_facts
    package = {"ModelPackageArn": "arn:aws:sagemaker:eu-west-1:123456789012:model-package/g/3",
               "ModelPackageVersion": 3,
               "CustomerMetadataProperties": {"metric.accept_threshold": "0.9", "metric.accept_threshold_hs4": "0.7",
                                              "metric.accept_threshold_hs2": "not a number"}}
    assert package_facts(package) == {"model_package_arn": package["ModelPackageArn"], "model_version": "3",
                                      "accept_threshold": 0.9, "accept_threshold_hs4": 0.7}
