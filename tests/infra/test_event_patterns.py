"""The rules' event patterns, taken from the templates, against real-shaped events in moto's EventBridge.

moto raises on put_events when a matching rule targets a SageMaker pipeline or CodePipeline, so each
pattern is installed here on a rule of its own with an SQS queue as target; which queues receive an
event is exactly which rules it would fire.
"""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from tests.infra import sample_events as events
from tests.infra.cfn_templates import REGION, resolved_stacks

STACKS = resolved_stacks()
RULES = {  # short name -> (template, logical id)
    "deploy": ("deploy-on-approval.yml", "ModelApprovedRule"),
    "new-data": ("retraining-rules.yml", "NewTrainingDataRule"),
    "drift": ("retraining-rules.yml", "DriftRetrainingRule"),
    "pointer": ("approved-pointer.yml", "PointerHookRule"),  # every decision of our group moves the pointer
}
EXPORTS = STACKS["model-resources.yml"].export_map()
GROUP = EXPORTS["hs-mlops-dev-ModelPackageGroupName"]
DATA_BUCKET = EXPORTS["hs-mlops-dev-DataBucketName"]
PREFIX = EXPORTS["hs-mlops-dev-TrainingDataPrefix"]
MARKER = EXPORTS["hs-mlops-dev-TrainingDataReadyMarkerKey"]
ARTIFACT_BUCKET = EXPORTS["hs-mlops-dev-ArtifactBucketName"]
RETRAINING = STACKS["retraining-rules.yml"]
ALARM = RETRAINING.resource("DriftAlarm")["Properties"]
ALARM_ARGS = {"namespace": ALARM["Namespace"], "metric": ALARM["MetricName"]}

# event name -> (event, the rules it must fire: exactly these)
CASES = {
    "model package approved in our group": (events.model_package_state_change(GROUP, "Approved"), {"deploy", "pointer"}),
    "model package rejected in our group": (events.model_package_state_change(GROUP, "Rejected"), {"pointer"}),
    "registration pending manual approval": (
        events.model_package_state_change(GROUP, "PendingManualApproval"), {"pointer"}),
    "another group's approval": (events.model_package_state_change("someone-elses-model", "Approved"), set()),
    "batch marker written at the data prefix": (events.s3_object_created(DATA_BUCKET, MARKER), {"new-data"}),
    # One file of a batch is not the batch: N uploads must not start N executions on partial data.
    "data file created under the data prefix": (
        events.s3_object_created(DATA_BUCKET, f"{PREFIX}2025-06/new_rows.csv.gz"), set()),
    "marker in a sub-folder of the prefix": (
        events.s3_object_created(DATA_BUCKET, f"{PREFIX}2025-06/_SUCCESS"), set()),
    "marker-like key outside the prefix": (events.s3_object_created(DATA_BUCKET, f"old-{MARKER}"), set()),
    "object created outside the data prefix": (
        events.s3_object_created(DATA_BUCKET, "exports/predictions.csv"), set()),
    "marker in another bucket": (events.s3_object_created("some-other-bucket", MARKER), set()),
    # What the pipeline itself writes never retrains: its snapshots go to the artifact bucket.
    "pipeline snapshot written to the artifact bucket": (
        events.s3_object_created(ARTIFACT_BUCKET, f"hs-code/snapshots/{'ab' * 32}/data/rows.csv"), set()),
    "pipeline snapshot of a marker-like name": (events.s3_object_created(ARTIFACT_BUCKET, MARKER), set()),
    "drift alarm enters ALARM": (
        events.cloudwatch_alarm_state_change(ALARM["AlarmName"], "ALARM", "OK", **ALARM_ARGS), {"drift"}),
    "drift alarm back to OK": (
        events.cloudwatch_alarm_state_change(ALARM["AlarmName"], "OK", "ALARM", **ALARM_ARGS), set()),
    "drift alarm to INSUFFICIENT_DATA": (
        events.cloudwatch_alarm_state_change(ALARM["AlarmName"], "INSUFFICIENT_DATA", "OK", **ALARM_ARGS), set()),
    "another alarm enters ALARM": (
        events.cloudwatch_alarm_state_change("ServerCpuTooHigh", "ALARM", "OK", **ALARM_ARGS), set()),
}


def pattern_of(rule: str) -> dict:
    template, logical_id = RULES[rule]
    return STACKS[template].resource(logical_id)["Properties"]["EventPattern"]


@pytest.fixture(scope="module")
def bus():
    """moto EventBridge with each template pattern on its own rule, feeding its own SQS queue."""
    with mock_aws():
        eventbridge = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {}
        for rule in RULES:
            url = sqs.create_queue(QueueName=f"rule-{rule}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            eventbridge.put_rule(Name=rule, EventPattern=json.dumps(pattern_of(rule)), State="ENABLED")
            eventbridge.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
            queues[rule] = url
        yield eventbridge, sqs, queues


def deliveries(sqs, queues) -> dict[str, list[dict]]:
    received = {}
    for rule, url in queues.items():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        received[rule] = [json.loads(m["Body"]) for m in messages]
    return received


@pytest.mark.parametrize("case", list(CASES))
def test_event_fires_exactly_the_right_rules(bus, case):
    eventbridge, sqs, queues = bus
    event, expected = CASES[case]
    result = eventbridge.put_events(Entries=[{
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Resources": event["resources"],
        "Detail": json.dumps(event["detail"]),
    }])
    assert result["FailedEntryCount"] == 0

    received = deliveries(sqs, queues)
    fired = {rule for rule, messages in received.items() if messages}
    assert fired == expected, f"{case}: fired {sorted(fired)}, expected {sorted(expected)}"
    for rule in fired:  # the delivered event is the one sent, whole
        assert [m["detail"] for m in received[rule]] == [event["detail"]]


def test_every_event_rule_in_the_templates_is_in_the_table():
    """A new pattern rule must get cases here; the schedule rule has no pattern."""
    pattern_rules = {
        (name, logical_id)
        for name, stack in STACKS.items()
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] == "AWS::Events::Rule" and "EventPattern" in resource["Properties"]
    }
    assert pattern_rules == set(RULES.values())
    assert {rule for _, expected in CASES.values() for rule in expected} == set(RULES)


def test_deploy_rule_requires_approved_status_of_this_group_only():
    detail = pattern_of("deploy")["detail"]
    assert detail["ModelApprovalStatus"] == ["Approved"]
    assert detail["ModelPackageGroupName"] == [GROUP]


def test_the_rule_listens_for_the_marker_the_snapshot_leaves_out():
    """Re-marking unchanged data must hash the same: the rule's marker is one the snapshot ignores."""
    from steps.hsml.snapshot import MARKER_NAMES

    assert pattern_of("new-data")["detail"]["object"]["key"] == [MARKER]
    assert MARKER.startswith(PREFIX) and MARKER[len(PREFIX):] in MARKER_NAMES
