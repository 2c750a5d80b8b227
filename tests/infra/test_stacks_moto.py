"""Create the five stacks, in order, in moto's CloudFormation and check the resources they make.

moto's CloudFormation lacks some types (CodeBuild, CodePipeline, CodeStar connections, the model package
group, CloudWatch alarms, bucket policies, Lambda function URLs): those resources are removed from the copy sent
to moto and references to them become placeholders. cfn-lint covers them instead (test_templates_lint.py).
Everything else (buckets, KMS key, roles and their policies, EventBridge rules, log groups, SSM parameters, the
router function from its zip in the artifact bucket, exports and imports between the stacks) is created by moto
from the template itself.
"""
from __future__ import annotations

import ast
import json
import re
import warnings

import boto3
import pytest
from moto import mock_aws
from moto.core.common_models import CloudFormationModel

from pipelines.registry.aws_pointer_package import build_hook_zip
from pipelines.serving.aws_package import build_router_zip
from tests.infra.cfn_templates import ACCOUNT_ID, REGION, REQUIRED_PARAMETERS, STACK_ORDER, load_template, \
    resolved_stacks

PROJECT = "hs-mlops-dev"


def moto_supported_types() -> set[str]:
    """Resource types moto's CloudFormation can create (its models register as CloudFormationModel)."""
    import importlib
    for service in ("s3", "iam", "kms", "events", "sqs", "logs", "sagemaker", "cloudwatch", "codebuild",
                    "codepipeline", "awslambda", "ssm"):
        importlib.import_module(f"moto.{service}.models")

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return {cls.cloudformation_type() for cls in subclasses(CloudFormationModel) if cls.cloudformation_type()}


def for_moto(template: dict, supported: set[str]) -> tuple[dict, set[str]]:
    """The template without the resources moto cannot create; references to them become placeholders."""
    removed = {lid for lid, res in template["Resources"].items() if res["Type"] not in supported}

    def placeholder(logical_id: str, attribute: str = "") -> str:
        return f"arn:aws:placeholder:{REGION}:{ACCOUNT_ID}:{logical_id}{'/' + attribute if attribute else ''}"

    def strip(node):
        if isinstance(node, list):
            return [strip(i) for i in node]
        if not isinstance(node, dict):
            return node
        if set(node) == {"Ref"} and node["Ref"] in removed:
            return placeholder(node["Ref"])
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in removed:
            return placeholder(*node["Fn::GetAtt"])
        if set(node) == {"Fn::Sub"}:
            arg = node["Fn::Sub"]
            text = arg[0] if isinstance(arg, list) else arg
            text = re.sub(r"\$\{(\w+)(?:\.(\w+))?\}",
                          lambda m: placeholder(m[1], m[2] or "") if m[1] in removed else m[0], text)
            return {"Fn::Sub": [text, strip(arg[1])] if isinstance(arg, list) else text}
        return {key: strip(value) for key, value in node.items()}

    kept = {lid: res for lid, res in template["Resources"].items() if lid not in removed}
    return {**template, "Resources": strip(kept), "Outputs": strip(template.get("Outputs", {}))}, removed


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """The stacks created in moto, in order; yields boto3 clients and what moto could not create."""
    supported = moto_supported_types()
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns for each type it skips; we removed those ourselves
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        skipped = {}
        for name in STACK_ORDER:
            if name == "serving.yml":  # as docs/deploy.md says: the router zip is uploaded before the stack
                zip_path, _ = build_router_zip(tmp_path_factory.mktemp("router") / "router.zip")
                boto3.client("s3", region_name=REGION).upload_file(
                    str(zip_path), f"{PROJECT}-artifacts-{ACCOUNT_ID}-{REGION}",
                    REQUIRED_PARAMETERS[name]["RouterCodeKey"])
            if name == "approved-pointer.yml":  # likewise the hook's zip (docs/deploy.md step 5b)
                zip_path, _ = build_hook_zip(tmp_path_factory.mktemp("pointer") / "approved-pointer.zip")
                boto3.client("s3", region_name=REGION).upload_file(
                    str(zip_path), f"{PROJECT}-artifacts-{ACCOUNT_ID}-{REGION}",
                    REQUIRED_PARAMETERS[name]["PointerCodeKey"])
            body, skipped[name] = for_moto(load_template(name), supported)
            stack = f"{PROJECT}-{name.removesuffix('.yml')}"
            cloudformation.create_stack(
                StackName=stack,
                TemplateBody=json.dumps(body),
                Parameters=[{"ParameterKey": k, "ParameterValue": v}
                            for k, v in REQUIRED_PARAMETERS.get(name, {}).items()],
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
            status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            assert status == "CREATE_COMPLETE", f"{stack}: {status}"
        yield {service: boto3.client(service, region_name=REGION)
               for service in ("cloudformation", "s3", "iam", "kms", "events", "ssm", "lambda")}, skipped


def test_what_moto_skips_is_only_what_it_cannot_create(aws):
    _, skipped = aws
    types = {name: {load_template(name)["Resources"][lid]["Type"] for lid in ids} for name, ids in skipped.items()}
    # The retraining stack's rules and roles are all real in moto; only its alarm is not.
    assert types["retraining-rules.yml"] == {"AWS::CloudWatch::Alarm"}
    # The router function, its role, parameters and log group are real; its URL and the bucket policy are not.
    assert types["serving.yml"] == {"AWS::Lambda::Url", "AWS::S3::BucketPolicy"}
    assert "AWS::Events::Rule" not in set().union(*types.values())
    assert "AWS::IAM::Role" not in set().union(*types.values())


def test_exports_feed_the_later_stacks(aws):
    clients, _ = aws
    exports = {e["Name"]: e["Value"] for e in clients["cloudformation"].list_exports()["Exports"]}
    bucket = f"{PROJECT}-data-{ACCOUNT_ID}-{REGION}"
    assert exports[f"{PROJECT}-DataBucketName"] == bucket
    assert exports[f"{PROJECT}-TrainingDataUri"] == f"s3://{bucket}/training-data/"
    assert exports[f"{PROJECT}-PipelineName"] == f"{PROJECT}-pipeline"
    assert exports[f"{PROJECT}-ModelPackageGroupName"] == f"{PROJECT}-classifier"
    assert exports[f"{PROJECT}-SageMakerExecutionRoleArn"].endswith(f":role/{PROJECT}-sagemaker-execution")


@pytest.mark.parametrize("bucket", ["data", "artifacts", "cicd", "capture"])
def test_buckets_are_encrypted_with_the_project_key(aws, bucket):
    # moto's CloudFormation applies a bucket's encryption but ignores its versioning, public access block
    # and notification settings: test_templates_structure.py checks those in the templates.
    clients, _ = aws
    exports = {e["Name"]: e["Value"] for e in clients["cloudformation"].list_exports()["Exports"]}
    name = f"{PROJECT}-{bucket}-{ACCOUNT_ID}-{REGION}"
    rule = clients["s3"].get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": exports[f"{PROJECT}-ProjectKeyArn"]}
    key_ids = {key["KeyArn"] for key in clients["kms"].list_keys()["Keys"]}
    assert exports[f"{PROJECT}-ProjectKeyArn"] in key_ids


def test_project_key_rotates(aws):
    clients, _ = aws
    alias = next(a for a in clients["kms"].list_aliases()["Aliases"] if a["AliasName"] == f"alias/{PROJECT}")
    assert clients["kms"].get_key_rotation_status(KeyId=alias["TargetKeyId"])["KeyRotationEnabled"]


def test_sagemaker_execution_role_is_for_sagemaker(aws):
    clients, _ = aws
    role = clients["iam"].get_role(RoleName=f"{PROJECT}-sagemaker-execution")["Role"]
    principals = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == ["sagemaker.amazonaws.com"]


def _inline_statements(iam, role_name: str) -> list[dict]:
    statements = []
    for policy in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):  # moto returns CloudFormation-made inline policies as a Python repr
            document = ast.literal_eval(document)
        statements += document["Statement"]
    return statements


def test_retraining_rules_start_the_pipeline_through_a_role_for_that_pipeline_only(aws):
    clients, _ = aws
    events, iam = clients["events"], clients["iam"]
    pipeline_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:pipeline/{PROJECT}-pipeline"
    role_arn = iam.get_role(RoleName=f"{PROJECT}-start-retraining")["Role"]["Arn"]
    assert _inline_statements(iam, f"{PROJECT}-start-retraining") == [{
        "Sid": "StartThisPipelineOnly", "Effect": "Allow",
        "Action": "sagemaker:StartPipelineExecution", "Resource": pipeline_arn,
    }]
    for rule in ("scheduled-retraining", "new-data-retraining", "drift-retraining"):
        targets = events.list_targets_by_rule(Rule=f"{PROJECT}-{rule}")["Targets"]
        assert len(targets) == 1, rule
        assert targets[0]["Arn"] == pipeline_arn
        assert targets[0]["RoleArn"] == role_arn
        assert targets[0]["SageMakerPipelineParameters"]["PipelineParameterList"] == [
            {"Name": "InputDataUri", "Value": f"s3://{PROJECT}-data-{ACCOUNT_ID}-{REGION}/training-data/"}]
    schedule = events.describe_rule(Name=f"{PROJECT}-scheduled-retraining")
    assert schedule["ScheduleExpression"] == "cron(0 3 ? * MON *)"


def test_moto_resolves_the_same_patterns_as_the_event_tests(aws):
    """The event-pattern table resolves the templates itself; moto's own resolution must agree."""
    clients, _ = aws
    stacks = resolved_stacks()
    for template, logical_id in [("retraining-rules.yml", "NewTrainingDataRule"),
                                 ("retraining-rules.yml", "DriftRetrainingRule"),
                                 ("deploy-on-approval.yml", "ModelApprovedRule")]:
        properties = stacks[template].resource(logical_id)["Properties"]
        in_moto = clients["events"].describe_rule(Name=properties["Name"])
        assert json.loads(in_moto["EventPattern"]) == properties["EventPattern"]


def test_approval_rule_starts_only_the_deploy_pipeline(aws):
    clients, _ = aws
    deploy_arn = f"arn:aws:codepipeline:{REGION}:{ACCOUNT_ID}:{PROJECT}-deploy"
    targets = clients["events"].list_targets_by_rule(Rule=f"{PROJECT}-deploy-on-approval")["Targets"]
    assert [t["Arn"] for t in targets] == [deploy_arn]
    assert _inline_statements(clients["iam"], f"{PROJECT}-start-deploy") == [{
        "Sid": "StartDeployPipelineOnly", "Effect": "Allow",
        "Action": "codepipeline:StartPipelineExecution", "Resource": deploy_arn,
    }]


def test_the_router_function_is_created_from_its_zip_with_its_parameters(aws):
    clients, _ = aws
    function = clients["lambda"].get_function(FunctionName=f"{PROJECT}-router")
    configuration = function["Configuration"]
    assert configuration["Handler"] == "pipelines.serving.aws_router.handler"
    assert configuration["Role"].endswith(f":role/{PROJECT}-router")
    variables = configuration["Environment"]["Variables"]
    weights = clients["ssm"].get_parameter(Name=variables["WEIGHTS_PARAMETER"])["Parameter"]["Value"]
    assert json.loads(weights) == {"champion": 1.0, "challenger": 0.0}
    assert clients["ssm"].get_parameter(Name=variables["DEPLOYED_VARIANTS_PARAMETER"])["Parameter"]["Value"] == "{}"
    assert variables["CAPTURE_BUCKET"] == f"{PROJECT}-capture-{ACCOUNT_ID}-{REGION}"
    exports = {e["Name"]: e["Value"] for e in clients["cloudformation"].list_exports()["Exports"]}
    assert exports[f"{PROJECT}-WeightsParameterName"] == variables["WEIGHTS_PARAMETER"]
    assert exports[f"{PROJECT}-CaptureUri"] == f"s3://{variables['CAPTURE_BUCKET']}/capture/"


def test_the_router_role_is_for_lambda_and_invokes_only_the_two_variant_endpoints(aws):
    clients, _ = aws
    role = clients["iam"].get_role(RoleName=f"{PROJECT}-router")["Role"]
    assert [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        "lambda.amazonaws.com"]
    invoke = next(s for s in _inline_statements(clients["iam"], f"{PROJECT}-router")
                  if s["Sid"] == "InvokeVariantEndpoints")
    assert invoke["Resource"] == [f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{PROJECT}-prod-champion",
                                  f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{PROJECT}-prod-challenger"]
