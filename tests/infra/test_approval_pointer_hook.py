"""infra/approved-pointer.yml: the rule on SageMaker's Model Package State Change, the hook function it invokes, and
the hook's role, checked against what the handler really does.

- the rule's pattern (from the template) against the documented events in moto's EventBridge, a console decision
  among them;
- the function's environment names the prefix the pipeline's Evaluate step reads (the definition built offline
  with the names CodeBuild upserts it with);
- the role grants exactly the calls the handler makes: every call of a real sync (approval with a copy, rejection to
  none with a delete), recorded from boto3 while the handler runs with the function's own environment, is allowed,
  nothing outside the pointer prefix is writable, and no action is granted that no call needs;
- the stack is created in moto after stack 1, the function from its real zip.
"""
from __future__ import annotations

import ast
import fnmatch
import hashlib
import json
import warnings

import boto3
import pytest
from moto import mock_aws

from pipelines.registry.approved_pointer import approved_prefix_uri
from pipelines.registry.aws_pointer_handler import ENVIRONMENT, HANDLER, handler
from pipelines.registry.aws_pointer_package import build_hook_zip
from tests.infra import sample_events as events
from tests.infra.cfn_templates import ACCOUNT_ID, PARTITION, REGION, Resolver, load_template, resolved_stacks

TEMPLATE = "approved-pointer.yml"
CODE_KEY = "registry/approved-pointer/approved-pointer-0123456789abcdef.zip"
RESOURCES = resolved_stacks()["model-resources.yml"]
EXPORTS = RESOURCES.export_map()
GROUP = EXPORTS["hs-mlops-dev-ModelPackageGroupName"]
ARTIFACT_BUCKET = EXPORTS["hs-mlops-dev-ArtifactBucketName"]
STACK = Resolver(load_template(TEMPLATE), {"PointerCodeKey": CODE_KEY}, EXPORTS, stack_name="approved-pointer")
RULE = STACK.resource("PointerHookRule")["Properties"]
FUNCTION = STACK.resource("PointerHookFunction")["Properties"]
FUNCTION_ARN = STACK.get_att("PointerHookFunction", "Arn")
VARIABLES = FUNCTION["Environment"]["Variables"]
POINTER_PREFIX = f"{VARIABLES['BASE_JOB_PREFIX']}/approved/{GROUP}/"


# ---- the rule

CASES = {  # event -> fires the hook
    "console approval in our group": (events.model_package_console_decision(GROUP, "Approved"), True),
    # Rejecting the approved version moves the pointer: no status filter.
    "console rejection in our group": (events.model_package_console_decision(GROUP, "Rejected"), True),
    "approval through the API in our group": (events.model_package_state_change(GROUP, "Approved"), True),
    "registration pending manual approval": (events.model_package_state_change(GROUP, "PendingManualApproval"), True),
    "another group's approval": (events.model_package_console_decision("someone-elses-model", "Approved"), False),
    "an S3 object in the artifact bucket": (
        events.s3_object_created(ARTIFACT_BUCKET, f"{POINTER_PREFIX}approved.json"), False),
}


@pytest.fixture
def bus():
    """moto EventBridge with the template's pattern on a rule feeding an SQS queue (moto would try to run a Lambda
    target), as tests/infra/test_event_patterns.py does. Per test: moto resets its state only when the outermost
    mock ends, and the module's other mocks create the same bucket names."""
    with mock_aws():
        eventbridge, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="approved-pointer")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        eventbridge.put_rule(Name="approved-pointer", EventPattern=json.dumps(RULE["EventPattern"]), State="ENABLED")
        eventbridge.put_targets(Rule="approved-pointer", Targets=[{"Id": "queue", "Arn": arn}])
        yield eventbridge, sqs, url


@pytest.mark.parametrize("case", list(CASES))
def test_the_rule_fires_on_every_state_change_of_our_group_only(bus, case):
    eventbridge, sqs, url = bus
    event, fires = CASES[case]
    sent = eventbridge.put_events(Entries=[{"Source": event["source"], "DetailType": event["detail-type"],
                                            "Resources": event["resources"], "Detail": json.dumps(event["detail"])}])
    assert sent["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert [json.loads(m["Body"])["detail"] for m in messages] == ([event["detail"]] if fires else [])


def test_the_pattern_names_the_group_and_no_status():
    assert RULE["EventPattern"] == {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
                                    "detail": {"ModelPackageGroupName": [GROUP]}}
    assert RULE["State"] == "ENABLED"


def test_the_rule_targets_the_function_and_only_that_rule_may_invoke_it():
    assert RULE["Targets"] == [{"Id": "approved-pointer", "Arn": FUNCTION_ARN}]
    permission = STACK.resource("PointerHookInvokePermission")["Properties"]
    assert permission == {"Action": "lambda:InvokeFunction", "FunctionName": FUNCTION_ARN,
                          "Principal": "events.amazonaws.com", "SourceAccount": ACCOUNT_ID,
                          "SourceArn": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT_ID}:rule/{RULE['Name']}"}


# ---- the function

def test_the_function_runs_the_handler_on_the_router_s_runtime():
    router = resolved_stacks()["serving.yml"].resource("RouterFunction")["Properties"]
    assert FUNCTION["Handler"] == HANDLER
    assert (FUNCTION["Runtime"], FUNCTION["Architectures"]) == (router["Runtime"], router["Architectures"])
    assert FUNCTION["Code"] == {"S3Bucket": ARTIFACT_BUCKET, "S3Key": CODE_KEY}
    assert set(VARIABLES) == set(ENVIRONMENT)
    assert (VARIABLES["ARTIFACT_BUCKET"], VARIABLES["GROUP"]) == (ARTIFACT_BUCKET, GROUP)


def test_the_function_writes_the_prefix_the_pipeline_s_evaluate_reads():
    """Built as buildspec.yml upserts it: the stack-1 bucket and group, get_pipeline()'s own base job prefix."""
    from pipelines.hs_code.offline import build_offline

    build = build_offline(default_bucket=VARIABLES["ARTIFACT_BUCKET"], model_package_group_name=VARIABLES["GROUP"])
    evaluate = next(s for s in json.loads(build.definition)["Steps"] if s["Name"] == "Evaluate")
    inputs = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["Arguments"]["ProcessingInputs"]}
    hook_prefix = approved_prefix_uri(VARIABLES["ARTIFACT_BUCKET"], VARIABLES["BASE_JOB_PREFIX"], VARIABLES["GROUP"])
    assert inputs["approved"] == hook_prefix == f"s3://{ARTIFACT_BUCKET}/{POINTER_PREFIX}"


# ---- the role against the handler's calls

# What each recorded call needs (IAM "actions defined by" tables): a copy reads the source and writes the target.
def _needed(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    s3_object = f"arn:{PARTITION}:s3:::{params.get('Bucket')}/{params.get('Key')}"
    if service == "sagemaker" and operation == "ListModelPackages":
        return [("sagemaker:ListModelPackages", "*")]
    if service == "sagemaker" and operation == "DescribeModelPackage":
        return [("sagemaker:DescribeModelPackage", params["ModelPackageName"])]
    if service == "s3" and operation in ("HeadObject", "GetObject"):
        return [("s3:GetObject", s3_object)]
    if service == "s3" and operation == "CopyObject":
        source = params["CopySource"]  # "bucket/key" (or a dict, as the caller gave it)
        source = source if isinstance(source, str) else f"{source['Bucket']}/{source['Key']}"
        return [("s3:GetObject", f"arn:{PARTITION}:s3:::{source}"), ("s3:PutObject", s3_object)]
    if service == "s3" and operation in ("PutObject", "CreateMultipartUpload", "UploadPartCopy",
                                         "CompleteMultipartUpload"):
        return [("s3:PutObject", s3_object)]
    if service == "s3" and operation in ("DeleteObject", "AbortMultipartUpload"):
        return [(f"s3:{operation}", s3_object)]
    raise AssertionError(f"the handler called {service}:{operation}, which the test (and maybe the role) lacks")


# Granted without a call of their own: what S3 itself does on the role's behalf (KMS through S3 for the encrypted
# bucket, ListBucket so a missing source answers 404), the multipart copy's clean-up, and the function's logs.
INDIRECT = {"kms:Decrypt", "kms:GenerateDataKey", "s3:ListBucket", "s3:AbortMultipartUpload",
            "logs:CreateLogStream", "logs:PutLogEvents"}


def _statements() -> list[dict]:
    role = STACK.resource("PointerHookRole")["Properties"]
    return [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _allowed(action: str, resource: str) -> bool:
    return any(statement["Effect"] == "Allow" and action in _as_list(statement["Action"])
               and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _as_list(statement["Resource"]))
               for statement in _statements())


@pytest.fixture(scope="module")
def recorded_calls():
    """Every AWS call of the handler, run with the function's environment over approve, approve, reject, reject."""
    calls: list[tuple[str, str, dict]] = []
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        for name, value in {**VARIABLES, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION}.items():
            patch.setenv(name, value)
        sagemaker, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACT_BUCKET)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        arns = []
        for run in ("run-1", "run-2"):
            key = f"{VARIABLES['BASE_JOB_PREFIX']}/pipelines-{run}/Tune/output/model.tar.gz"
            s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=run.encode())
            arns.append(sagemaker.create_model_package(
                ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={"Containers": [{"Image": "tf", "ModelDataUrl": f"s3://{ARTIFACT_BUCKET}/{key}"}],
                                        "SupportedContentTypes": ["application/json"],
                                        "SupportedResponseMIMETypes": ["application/json"]},
                CustomerMetadataProperties={"checksum-sha256": hashlib.sha256(run.encode()).hexdigest()},
            )["ModelPackageArn"])

        boto3.setup_default_session()  # the handler's clients come from this session: record what they send
        boto3.DEFAULT_SESSION.events.register(  # the API parameters of each call, before serialisation
            "provide-client-params.*.*", lambda model, params, **_: calls.append(
                (model.service_model.endpoint_prefix if model.service_model.endpoint_prefix != "api.sagemaker"
                 else "sagemaker", model.name, params)))
        documents = []
        for version, status in ((1, "Approved"), (2, "Approved"), (2, "Rejected"), (1, "Rejected")):
            sagemaker.update_model_package(ModelPackageArn=arns[version - 1], ModelApprovalStatus=status)
            documents.append(handler(events.model_package_console_decision(GROUP, status, version), None)["model"])
        boto3.DEFAULT_SESSION = None
    assert [d and d["version"] for d in documents] == [1, 2, 1, None]  # it did copy, rewrite and delete
    return calls


def test_the_role_allows_every_call_the_handler_makes(recorded_calls):
    needed = {need for call in recorded_calls for need in _needed(*call)}
    assert {action for action, _ in needed} == {"sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage",
                                               "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    refused = sorted(need for need in needed if not _allowed(*need))
    assert not refused, refused


def test_the_role_grants_no_action_the_handler_does_not_need(recorded_calls):
    needed = {action for call in recorded_calls for action, _ in _needed(*call)}
    granted = {action for statement in _statements() for action in _as_list(statement["Action"])}
    assert granted == needed | INDIRECT


def test_the_role_writes_under_the_pointer_prefix_only():
    bucket = f"arn:{PARTITION}:s3:::{ARTIFACT_BUCKET}"
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        assert _allowed(action, f"{bucket}/{POINTER_PREFIX}model.tar.gz")
        for elsewhere in (f"{bucket}/hs-code/snapshots/abc/data/rows.csv", f"{bucket}/hs-code/pipelines-x/model.tar.gz",
                          f"{bucket}/hs-code/approved/another-group/approved.json",
                          f"{bucket}/hs-code/approved/{GROUP}-other/approved.json"):
            assert not _allowed(action, elsewhere), (action, elsewhere)
    assert not _allowed("sagemaker:DescribeModelPackage",
                        f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/another-group/1")
    kms = next(s for s in _statements() if s["Sid"] == "UseProjectKeyThroughS3Only")
    assert kms["Resource"] == EXPORTS["hs-mlops-dev-ProjectKeyArn"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}


# ---- the stack in moto

@pytest.fixture(scope="module")
def created(tmp_path_factory):
    """Stack 1, then the zip uploaded (docs/deploy.md), then this stack, in moto's CloudFormation."""
    from tests.infra.test_stacks_moto import for_moto, moto_supported_types

    supported = moto_supported_types()
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        skipped = {}
        for name, parameters in (("model-resources.yml", {}), (TEMPLATE, {"PointerCodeKey": CODE_KEY})):
            if name == TEMPLATE:
                zip_path, _ = build_hook_zip(tmp_path_factory.mktemp("hook") / "hook.zip")
                boto3.client("s3", region_name=REGION).upload_file(str(zip_path), ARTIFACT_BUCKET, CODE_KEY)
            body, skipped[name] = for_moto(load_template(name), supported)
            stack = f"hs-mlops-dev-{name.removesuffix('.yml')}"
            cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(body),
                                        Parameters=[{"ParameterKey": k, "ParameterValue": v}
                                                    for k, v in parameters.items()],
                                        Capabilities=["CAPABILITY_NAMED_IAM"])
            status = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
            assert status == "CREATE_COMPLETE", f"{stack}: {status}"
        yield {service: boto3.client(service, region_name=REGION) for service in ("lambda", "events", "iam", "cloudformation")}, \
            skipped


def test_the_stack_creates_in_moto_with_only_its_alarm_skipped(created):
    clients, skipped = created
    assert skipped[TEMPLATE] == {"PointerHookErrorsAlarm"}  # moto's CloudFormation creates no CloudWatch alarm
    function = clients["lambda"].get_function(FunctionName=FUNCTION["FunctionName"])["Configuration"]
    assert function["Handler"] == HANDLER
    assert function["Environment"]["Variables"] == VARIABLES
    assert function["Role"].endswith(":role/hs-mlops-dev-approved-pointer")
    targets = clients["events"].list_targets_by_rule(Rule=RULE["Name"])["Targets"]
    assert [t["Arn"] for t in targets] == [function["FunctionArn"]]
    pattern = json.loads(clients["events"].describe_rule(Name=RULE["Name"])["EventPattern"])
    assert pattern == RULE["EventPattern"]


def test_an_error_of_the_hook_raises_its_alarm_and_tells_the_topic_when_one_is_given():
    alarm = STACK.resource("PointerHookErrorsAlarm")["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": FUNCTION["FunctionName"]}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["TreatMissingData"] == "notBreaching" and "AlarmActions" not in alarm  # no topic given
    topic = "arn:aws:sns:eu-west-2:123456789012:ops"
    told = Resolver(load_template(TEMPLATE), {"PointerCodeKey": CODE_KEY, "AlarmTopicArn": topic}, EXPORTS,
                    stack_name="approved-pointer").resource("PointerHookErrorsAlarm")["Properties"]
    assert told["AlarmActions"] == [topic]


def test_in_moto_only_the_rule_may_invoke_the_function(created):
    clients, _ = created
    policy = clients["lambda"].get_policy(FunctionName=FUNCTION["FunctionName"])["Policy"]
    statements = (json.loads(policy) if isinstance(policy, str) else policy)["Statement"]
    rule_arn = clients["events"].describe_rule(Name=RULE["Name"])["Arn"]
    assert len(statements) == 1
    assert statements[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"] == rule_arn


def test_in_moto_the_role_is_for_lambda(created):
    clients, _ = created
    role = clients["iam"].get_role(RoleName="hs-mlops-dev-approved-pointer")["Role"]
    assert [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == ["lambda.amazonaws.com"]
    names = clients["iam"].list_role_policies(RoleName="hs-mlops-dev-approved-pointer")["PolicyNames"]
    document = clients["iam"].get_role_policy(RoleName="hs-mlops-dev-approved-pointer", PolicyName=names[0])[
        "PolicyDocument"]
    if isinstance(document, str):  # moto returns CloudFormation-made inline policies as a Python repr
        document = ast.literal_eval(document)
    exports = {e["Name"]: e["Value"] for e in clients["cloudformation"].list_exports()["Exports"]}
    expected = [{**s, "Resource": exports["hs-mlops-dev-ProjectKeyArn"]} if s["Sid"] == "UseProjectKeyThroughS3Only"
                else s for s in _statements()]  # the key's real id in moto, a placeholder in the resolver
    assert document["Statement"] == expected
