"""What the issue asks of the templates, checked on the resolved templates (what moto cannot show)."""
from __future__ import annotations

import json
import re

import pytest
import yaml

from pipelines.settings import REPO_ROOT
from tests.infra.cfn_templates import resolved_stacks

STACKS = resolved_stacks()
RESOURCES, BUILD, RETRAINING, SERVING, DEPLOY = (STACKS[n] for n in (
    "model-resources.yml", "model-build.yml", "retraining-rules.yml", "serving.yml", "deploy-on-approval.yml"))


def resources_of_type(stack, kind: str) -> dict[str, dict]:
    return {lid: stack.resource(lid) for lid, r in stack.template["Resources"].items() if r["Type"] == kind}


@pytest.mark.parametrize("stack, logical_id", [
    (RESOURCES, "DataBucket"), (RESOURCES, "ArtifactBucket"), (BUILD, "PipelineArtifactBucket"),
    (SERVING, "CaptureBucket")])
def test_buckets_are_kms_encrypted_private_versioned(stack, logical_id):
    properties = stack.resource(logical_id)["Properties"]
    default = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms" and default["KMSMasterKeyID"].startswith("arn:aws:kms:")
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


def test_data_bucket_notifies_eventbridge():
    properties = RESOURCES.resource("DataBucket")["Properties"]
    assert properties["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}


def test_every_stack_is_parameterised_by_project_and_environment():
    for name, stack in STACKS.items():
        assert {"ProjectName", "Environment"} <= set(stack.template["Parameters"]), name


def test_model_build_pipeline_sources_main_through_a_connection_and_runs_buildspec():
    stages = BUILD.resource("ModelBuildPipeline")["Properties"]["Stages"]
    source = stages[0]["Actions"][0]
    assert source["ActionTypeId"] == {"Category": "Source", "Owner": "AWS",
                                      "Provider": "CodeStarSourceConnection", "Version": "1"}
    assert source["Configuration"]["BranchName"] == "main"
    assert source["Configuration"]["DetectChanges"] is True
    build = stages[1]["Actions"][0]
    assert build["ActionTypeId"]["Provider"] == "CodeBuild"
    assert build["Configuration"]["ProjectName"] == BUILD.resource("ModelBuildProject")["Properties"]["Name"]
    assert BUILD.resource("ModelBuildProject")["Properties"]["Source"]["BuildSpec"] == "buildspec.yml"


def test_codebuild_sets_every_variable_the_buildspec_reads():
    buildspec_text = (REPO_ROOT / "buildspec.yml").read_text()
    read = set(re.findall(r"\$\{(HSCODE_[A-Z_]+|SAGEMAKER_[A-Z_]+)", buildspec_text))
    variables = {v["Name"]: v["Value"] for v in
                 BUILD.resource("ModelBuildProject")["Properties"]["Environment"]["EnvironmentVariables"]}
    assert read == set(variables)
    assert variables["HSCODE_WAIT_FOR_EXECUTION"] == "false"  # no blocking wait unless asked


def test_deploy_pipeline_is_staging_smoke_approval_prod_then_traffic():
    stages = DEPLOY.resource("DeployPipeline")["Properties"]["Stages"]
    steps = []
    for stage in stages[1:]:
        for action in sorted(stage["Actions"], key=lambda a: a.get("RunOrder", 1)):
            if action["ActionTypeId"]["Category"] == "Approval":
                steps.append("approval")
                continue
            env = {v["name"]: v["value"] for v in json.loads(action["Configuration"]["EnvironmentVariables"])}
            steps.append(f"{env['DEPLOY_ACTION']} {env['DEPLOY_STAGE']}")
            if env["DEPLOY_STAGE"] == "prod":  # prod gets exactly what staging tested
                assert env["HSCODE_MODEL_PACKAGE_ARN"] == "#{Staging.MODEL_PACKAGE_ARN}"
            if env["DEPLOY_STAGE"] == "prod" and env["DEPLOY_ACTION"] != "deploy":  # ... on the variant it chose
                assert env["DEPLOY_VARIANT"] == "#{Production.DEPLOYED_VARIANT}"
    # traffic moves (route) only after the variant's own endpoint passed its smoke test
    assert steps == ["deploy staging", "smoke staging", "approval", "deploy prod", "smoke prod", "route prod"]
    assert stages[0]["Actions"][0]["Configuration"]["DetectChanges"] is False  # a push never deploys
    assert DEPLOY.resource("DeployProject")["Properties"]["Source"]["BuildSpec"] == "infra/deploy/buildspec.yml"


def test_deploy_buildspec_exports_what_prod_reads():
    buildspec = yaml.safe_load((REPO_ROOT / "infra/deploy/buildspec.yml").read_text())
    assert buildspec["env"]["exported-variables"] == ["MODEL_PACKAGE_ARN", "DEPLOYED_VARIANT"]
    stages = DEPLOY.resource("DeployPipeline")["Properties"]["Stages"]
    assert stages[1]["Actions"][0]["Namespace"] == "Staging"
    assert stages[3]["Actions"][0]["Name"] == "DeployProd" and stages[3]["Actions"][0]["Namespace"] == "Production"


def test_drift_alarm_watches_the_custom_metric_with_a_threshold_parameter():
    alarm = RETRAINING.resource("DriftAlarm")["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("HSMLOps/Drift", "KLDivergence")
    assert RETRAINING.template["Resources"]["DriftAlarm"]["Properties"]["Threshold"] == {"Ref": "DriftThreshold"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_schedule_is_a_parameter():
    rule = RETRAINING.template["Resources"]["ScheduledRetrainingRule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "RetrainingSchedule"}


def _execution_role_grants(action: str) -> set[str]:
    """The resources the pipeline's execution role may `action` on (resolved ARNs, wildcards kept)."""
    granted = set()
    for policy in RESOURCES.resource("SageMakerExecutionRole")["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if statement["Effect"] == "Allow" and action in actions:
                resources = statement["Resource"]
                granted |= set(resources if isinstance(resources, list) else [resources])
    return granted


def test_the_pipeline_writes_its_snapshots_but_never_the_data_it_is_retrained_on():
    """SnapshotData writes <artifact bucket>/<prefix>/snapshots/; no pipeline write can land in the data
    bucket, where the new-data rule listens, so an execution never starts another."""
    artifact = RESOURCES.resource("ArtifactBucket")["Properties"]["BucketName"]
    data = RESOURCES.resource("DataBucket")["Properties"]["BucketName"]
    writable = _execution_role_grants("s3:PutObject")
    assert f"arn:aws:s3:::{artifact}/*" in writable
    assert not any(arn.startswith(f"arn:aws:s3:::{data}") for arn in writable)
    assert f"arn:aws:s3:::{data}/*" in _execution_role_grants("s3:GetObject")
    assert "NotificationConfiguration" not in RESOURCES.resource("ArtifactBucket")["Properties"]
