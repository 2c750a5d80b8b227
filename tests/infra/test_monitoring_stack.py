"""infra/monitoring.yml: the schedule starts the monitoring pipeline, with the parameters the pipeline has, as a
role that can start that pipeline and nothing else; the job's role can read the capture and nothing more there."""
from __future__ import annotations

import json

from tests.infra.cfn_templates import ACCOUNT_ID, PARTITION, REGION, load_template, resolved_stacks
from tests.pipelines.monitoring.test_pipeline import SNAPSHOT


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
