"""On AWS: the plan and the scheduled looks in S3, the router's weights in SSM (moto)."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from pipelines.monitoring.looks import plan_digest
from pipelines.monitoring.plans import S3PlanMirror
from pipelines.monitoring.promotion import apply_decision
from pipelines.serving.weights import SsmWeightsStore
from steps.hsml.ab_plan import make_plan, plan_to_dict

BUCKET, PARAMETER = "hs-mlops-artifacts", "/hs-mlops/dev/serving/weights"


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3, boto3.client("ssm", region_name="us-east-1")


def test_the_plan_goes_where_the_pipeline_reads_it_and_scheduled_looks_drive_the_ssm_weights(aws):
    s3, ssm = aws
    plan = plan_to_dict(make_plan("champion", "challenger", {"champion": 0.8, "challenger": 0.2}, 0.7,
                                  experiment_id="hs-code-x", models={"champion": "1", "challenger": "2"}))
    mirror = S3PlanMirror(s3, BUCKET, "hs-code")
    assert mirror.put_plan(plan) == f"s3://{BUCKET}/ab/hs-code/plan.json"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key="ab/hs-code/plan.json")["Body"].read()) == plan
    # What the monitoring job writes: <PlanUri>looks/<execution id>/analysis.json
    look = {"recorded_at": "2026-12-01T10:00:00+00:00", "plan_sha256": plan_digest(plan),
            "analysis": {"decision": "keep", "reason": "last look 3/3: no significant improvement"}}
    s3.put_object(Bucket=BUCKET, Key="ab/hs-code/looks/exec-1/analysis.json", Body=json.dumps(look).encode())
    s3.put_object(Bucket=BUCKET, Key="ab/hs-code/looks/exec-0/analysis.json", Body=b"{truncated")
    assert mirror.looks() == [look]

    ssm.put_parameter(Name=PARAMETER, Value='{"champion": 0.8, "challenger": 0.2}', Type="String")
    outcome = apply_decision(plan, mirror.looks(), SsmWeightsStore(ssm, PARAMETER), registry=None, group=None)
    assert outcome.decision == "keep"
    assert json.loads(ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]) == {"champion": 1.0,
                                                                                    "challenger": 0.0}
    closed = mirror.close(plan, outcome.record)
    assert closed == f"s3://{BUCKET}/ab/hs-code/closed/hs-code-x/"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ab/hs-code/")["Contents"]}
    assert "ab/hs-code/plan.json" not in keys  # the schedule finds no running plan
    assert {"ab/hs-code/closed/hs-code-x/plan.json", "ab/hs-code/closed/hs-code-x/decision.json"} <= keys
