"""infra/monitoring.yml: the schedule starts the monitoring pipeline, with the parameters the pipeline has, as a
role that can start that pipeline and nothing else; the job's role can read the capture and nothing more there,
and may publish the drift metric; the drift check reads the model copies where the deploy writes them."""
from __future__ import annotations

import fnmatch
import json

import pytest

from pipelines.local.offline import build_offline
from pipelines.monitoring import drift
from tests.infra.cfn_templates import ACCOUNT_ID, PARTITION, REGION, load_template, resolved_stacks
from tests.pipelines.monitoring.test_pipeline import MODULE, SNAPSHOT


@pytest.fixture(scope="module")
def definition() -> dict:
    return json.loads(build_offline(MODULE, stage_data=False).definition)


def _schedule_parameters(stacks=None) -> dict:
    stacks = stacks or resolved_stacks()
    target = stacks["monitoring.yml"].resource("AnalysisSchedule")["Properties"]["Target"]
    return {p["Name"]: p["Value"] for p in target["SageMakerPipelineParameters"]["PipelineParameterList"]}


def test_the_schedule_passes_only_parameters_of_the_built_definition_and_every_drift_one(definition):
    declared = {p["Name"] for p in definition["Parameters"]}
    given = _schedule_parameters()
    assert set(given) <= declared, f"the schedule passes parameters the pipeline lacks: {set(given) - declared}"
    assert {"ModelUri", "ModelPackageGroup", "DriftWindowHours", "DriftMetricSink"} <= set(given)
    assert given["DriftMetricSink"] == "cloudwatch" and float(given["DriftWindowHours"]) == 24


def test_the_drift_check_reads_the_models_where_the_deploy_copies_them():
    stacks = resolved_stacks()
    build = stacks["deploy-on-approval.yml"].resource("DeployProject")["Properties"]["Environment"]
    env = {v["Name"]: v["Value"] for v in build["EnvironmentVariables"]}
    given = _schedule_parameters(stacks)
    assert given["ModelUri"] == env["HSCODE_MONITORING_MODELS_URI"]
    assert given["ModelUri"] == f"s3://{stacks['model-resources.yml'].ref('ArtifactBucket')}/monitoring/deployed/"
    assert (env["HSCODE_CAPTURE_URI"], env["HSCODE_GROUND_TRUTH_URI"]) == (given["CaptureUri"],
                                                                          given["GroundTruthUri"])


def test_the_metric_dimension_the_schedule_passes_is_the_one_the_drift_alarm_watches():
    stacks = resolved_stacks()
    alarm = stacks["retraining-rules.yml"].resource("DriftAlarm")["Properties"]
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == drift.DIMENSION_NAME
    assert _schedule_parameters(stacks)["ModelPackageGroup"] == dimension["Value"]


def test_the_job_role_may_publish_the_drift_metric_and_no_other_namespace_outside_its_own():
    stacks = resolved_stacks()
    role = stacks["model-resources.yml"].resource("SageMakerExecutionRole")["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]
                  if s["Action"] == "cloudwatch:PutMetricData"]
    (statement,) = statements
    namespaces = statement["Condition"]["StringLike"]["cloudwatch:namespace"]
    assert any(fnmatch.fnmatchcase(drift.NAMESPACE, pattern) for pattern in namespaces)
    assert not any(fnmatch.fnmatchcase("AWS/EC2", pattern) for pattern in namespaces)


def test_the_deploy_role_writes_only_the_model_copies_and_the_two_seeds():
    stacks = resolved_stacks()
    role = stacks["deploy-on-approval.yml"].resource("DeployBuildRole")["Properties"]
    statements = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    artifacts = stacks["model-resources.yml"].ref("ArtifactBucket")
    capture = stacks["serving.yml"].ref("CaptureBucket")
    assert statements["WriteMonitoringModelCopies"]["Resource"] == f"arn:aws:s3:::{artifacts}/monitoring/deployed/*"
    assert set(statements["WriteMonitoringModelCopies"]["Action"]) == {"s3:PutObject", "s3:DeleteObject"}
    assert statements["SeedMonitoringInputs"]["Action"] == "s3:PutObject"
    assert statements["SeedMonitoringInputs"]["Resource"] == [
        f"arn:aws:s3:::{capture}/capture/{drift.SEED_OBJECT}", f"arn:aws:s3:::{capture}/ground-truth/{drift.SEED_OBJECT}"]
    assert statements["ReadModelArtifacts"]["Action"] == "s3:GetObject"


def _stack():
    return resolved_stacks()["monitoring.yml"]


def test_the_schedule_starts_the_monitoring_pipeline_with_its_own_parameter_names():
    schedule = _stack().resource("AnalysisSchedule")
    assert schedule["Type"] == "AWS::Scheduler::Schedule"
    target = schedule["Properties"]["Target"]
    # <project>-<env>-monitoring: the name the model-build stack's CodeBuild upserts it under.
    assert target["Arn"] == f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT_ID}:pipeline/hs-mlops-dev-monitoring"
    given = {p["Name"]: p["Value"] for p in target["SageMakerPipelineParameters"]["PipelineParameterList"]}
    with open(SNAPSHOT, encoding="utf-8") as handle:
        declared = {p["Name"] for p in json.load(handle)["Parameters"]}
    assert set(given) <= declared, f"the schedule passes parameters the pipeline lacks: {set(given) - declared}"
    assert given["CaptureUri"].endswith("/capture/") and given["GroundTruthUri"].endswith("/ground-truth/")
    assert given["PlanUri"].startswith("s3://") and given["PlanUri"].endswith("/ab/hs-code/")


def test_the_scheduler_role_can_start_that_pipeline_only():
    stack = _stack()
    role = stack.resource("StartMonitoringRole")["Properties"]
    (principal,) = [s["Principal"]["Service"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principal == "scheduler.amazonaws.com"
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sagemaker:StartPipelineExecution"
    assert statement["Resource"] == stack.resource("AnalysisSchedule")["Properties"]["Target"]["Arn"]
    assert stack.resource("AnalysisSchedule")["Properties"]["Target"]["RoleArn"].endswith(
        ":role/hs-mlops-dev-start-monitoring")


def test_the_job_role_reads_only_capture_and_ground_truth_of_the_capture_bucket():
    stacks = resolved_stacks()
    policy = stacks["monitoring.yml"].resource("ReadCapturePolicy")["Properties"]
    assert policy["Roles"] == [stacks["model-resources.yml"].ref("SageMakerExecutionRole")]
    bucket = stacks["serving.yml"].ref("CaptureBucket")
    resources = {s["Sid"]: s["Resource"] for s in policy["PolicyDocument"]["Statement"]}
    assert resources["ListCapture"] == f"arn:aws:s3:::{bucket}"
    assert resources["ReadCapture"] == [f"arn:aws:s3:::{bucket}/capture/*", f"arn:aws:s3:::{bucket}/ground-truth/*"]
    actions = {s["Action"] for s in policy["PolicyDocument"]["Statement"]}
    assert actions == {"s3:ListBucket", "s3:GetObject"}


def test_it_follows_the_stack_conventions():
    template = load_template("monitoring.yml")
    assert {"ProjectName", "Environment"} <= set(template["Parameters"])
    assert template["Parameters"]["ProjectName"]["Default"] == "hs-mlops"
