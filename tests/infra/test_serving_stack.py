"""infra/serving.yml (the router) and its seams with the code and with the deploy stack, on resolved templates.

What these pin down: the function URL is IAM-authorised; the router's role grants exactly what its environment
points it at (the two variant endpoints, the capture and ground-truth prefixes, the two parameters); the
environment is the one aws_router reads; the deploy pipeline writes the same parameters and deploys the same
endpoints. The stack itself is created in moto by test_stacks_moto.py.
"""
from __future__ import annotations

import re

import pytest

from pipelines.serving.aws_package import HANDLER, ROUTER_FILES
from pipelines.serving.aws_router import RouterConfig
from pipelines.settings import REPO_ROOT
from tests.infra.cfn_templates import ACCOUNT_ID, REGION, resolved_stacks

STACKS = resolved_stacks()
SERVING, DEPLOY = STACKS["serving.yml"], STACKS["deploy-on-approval.yml"]
FUNCTION = SERVING.resource("RouterFunction")["Properties"]
ENV = FUNCTION["Environment"]["Variables"]


def grants(role: dict) -> dict[str, set[str]]:
    """action -> the resources an IAM role's inline policies allow it on."""
    allowed: dict[str, set[str]] = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                allowed.setdefault(action, set()).update(resources)
    return allowed


def parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{name}"


def test_the_function_url_is_iam_authorised_and_nothing_opens_the_function():
    assert SERVING.resource("RouterFunctionUrl")["Properties"]["AuthType"] == "AWS_IAM"
    kinds = {r["Type"] for r in SERVING.template["Resources"].values()}
    assert "AWS::Lambda::Permission" not in kinds  # no resource policy: only IAM principals of this account


def test_the_environment_is_what_the_router_reads():
    config = RouterConfig.from_environ(ENV)
    assert config.endpoint_name == "hs-code"
    assert config.variant_endpoints == {"champion": "hs-mlops-dev-prod-champion",
                                        "challenger": "hs-mlops-dev-prod-challenger"}
    assert config.weights_parameter == "/hs-mlops/dev/serving/weights"
    assert config.deployed_variants_parameter == "/hs-mlops/dev/serving/deployed-variants"
    assert config.capture_bucket == config.ground_truth_bucket == f"hs-mlops-dev-capture-{ACCOUNT_ID}-{REGION}"
    assert config.variant_endpoint_urls == {}  # on AWS the variants are real endpoints
    assert FUNCTION["Handler"] == HANDLER
    assert HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py" in ROUTER_FILES
    assert FUNCTION["Runtime"].startswith("python3.")


def test_the_router_role_grants_exactly_what_its_environment_names():
    config = RouterConfig.from_environ(ENV)
    allowed = grants(SERVING.resource("RouterRole"))
    assert allowed["sagemaker:InvokeEndpoint"] == {
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{name}" for name in config.variant_endpoints.values()}
    bucket = f"arn:aws:s3:::{config.capture_bucket}"
    assert allowed["s3:PutObject"] == {f"{bucket}/{config.capture_prefix}{config.endpoint_name}/*",
                                       f"{bucket}/{config.ground_truth_prefix}*"}
    assert allowed["ssm:GetParameter"] == {parameter_arn(config.weights_parameter),
                                           parameter_arn(config.deployed_variants_parameter)}
    assert allowed["logs:PutLogEvents"] == {
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:/aws/lambda/hs-mlops-dev-router:*"}
    # never reads, lists or deletes what it captured, never writes its own weights
    assert not {"s3:GetObject", "s3:ListBucket", "s3:DeleteObject", "ssm:PutParameter"} & set(allowed)
    kms = next(s for p in SERVING.resource("RouterRole")["Properties"]["Policies"]
               for s in p["PolicyDocument"]["Statement"] if s["Sid"] == "EncryptCaptureThroughS3Only")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
    assert SERVING.resource("RouterFunction")["Properties"]["LoggingConfig"]["LogGroup"] == \
        SERVING.resource("RouterLogGroup")["Properties"]["LogGroupName"]


def test_the_invoke_policy_allows_calling_the_router_only():
    statements = SERVING.resource("RouterInvokePolicy")["Properties"]["PolicyDocument"]["Statement"]
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:hs-mlops-dev-router"
    assert {(s["Action"], s["Resource"]) for s in statements} == {
        ("lambda:InvokeFunctionUrl", function_arn), ("lambda:InvokeFunction", function_arn)}


def test_capture_expires_but_ground_truth_is_kept():
    rules = SERVING.resource("CaptureBucket")["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in expiring] == [("capture/", 400)]
    assert ENV["CAPTURE_PREFIX"] == "capture/" and ENV["GROUND_TRUTH_PREFIX"] == "ground-truth/"


def test_the_first_weights_send_everything_to_the_champion():
    from pipelines.serving.weights import weights_from_text

    value = SERVING.resource("WeightsParameter")["Properties"]["Value"]
    assert weights_from_text(value, "the template") == {"challenger": 0.0, "champion": 1.0}
    assert SERVING.resource("DeployedVariantsParameter")["Properties"]["Value"] == "{}"


def test_the_deploy_pipeline_writes_the_routers_parameters_and_deploys_its_endpoints():
    config = RouterConfig.from_environ(ENV)
    project = DEPLOY.resource("DeployProject")["Properties"]
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["HSCODE_WEIGHTS_PARAMETER"] == config.weights_parameter
    assert variables["HSCODE_DEPLOYED_VARIANTS_PARAMETER"] == config.deployed_variants_parameter
    assert {"champion": variables["HSCODE_CHAMPION_ENDPOINT"],
            "challenger": variables["HSCODE_CHALLENGER_ENDPOINT"]} == config.variant_endpoints
    assert variables["HSCODE_CHALLENGER_WEIGHT"] == 0.1
    allowed = grants(DEPLOY.resource("DeployBuildRole"))
    parameters = {parameter_arn(config.weights_parameter), parameter_arn(config.deployed_variants_parameter)}
    assert allowed["ssm:PutParameter"] == allowed["ssm:GetParameter"] == parameters
    endpoint_scope = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/hs-mlops-dev-*"
    assert endpoint_scope in allowed["sagemaker:CreateEndpoint"]
    assert all(name.startswith("hs-mlops-dev-") for name in config.variant_endpoints.values())


def test_every_setting_the_deploy_script_reads_is_set_by_the_project_or_the_pipeline():
    script = (REPO_ROOT / "infra/deploy/deploy_endpoint.py").read_text()
    read = set(re.findall(r'env\("((?:HSCODE|SAGEMAKER|DEPLOY)_[A-Z_]+)"', script))
    project = DEPLOY.resource("DeployProject")["Properties"]
    set_by_project = {v["Name"] for v in project["Environment"]["EnvironmentVariables"]}
    set_by_actions = set()
    for stage in DEPLOY.resource("DeployPipeline")["Properties"]["Stages"][1:]:
        for action in stage["Actions"]:
            set_by_actions |= set(re.findall(r'"name":"([A-Z_]+)"', action["Configuration"].get(
                "EnvironmentVariables", "")))
    assert read <= set_by_project | set_by_actions, read - set_by_project - set_by_actions
    assert {"HSCODE_CHALLENGER_WEIGHT", "HSCODE_WEIGHTS_PARAMETER", "DEPLOY_VARIANT"} <= read


@pytest.mark.parametrize("name", ["RouterFunctionUrl", "CaptureUri", "GroundTruthUri", "WeightsParameterName",
                                  "ServingEndpointName", "RouterInvokePolicyArn"])
def test_what_later_jobs_need_is_exported(name):
    assert name in SERVING.template["Outputs"] and "Export" in SERVING.template["Outputs"][name]


def test_hscode_ab_names_the_weights_parameter_the_stack_creates():
    from pipelines.cli.ab import DEFAULT_ENVIRONMENT, DEFAULT_PROJECT_NAME, weights_parameter_name

    assert RouterConfig.from_environ(ENV).weights_parameter == weights_parameter_name(DEFAULT_PROJECT_NAME,
                                                                                       DEFAULT_ENVIRONMENT)
    assert weights_parameter_name("acme", "prod") == "/acme/prod/serving/weights"
