"""Real-shaped EventBridge events, following the examples in the AWS documentation:

- "SageMaker Model Package State Change": SageMaker developer guide, "Events that Amazon SageMaker sends
  to Amazon EventBridge" > Model package state change;
- S3 "Object Created": Amazon S3 user guide, "EventBridge event message structure";
- "CloudWatch Alarm State Change": CloudWatch user guide, "Alarm events and EventBridge" (single metric).

Only the names that the rules filter on (group, bucket, key, alarm, state) are parameters; everything
else is the documented payload, so a pattern that only works on a trimmed-down event fails here.
"""
from __future__ import annotations

from tests.infra.cfn_templates import ACCOUNT_ID, REGION


def model_package_state_change(group: str, approval_status: str, version: int = 2) -> dict:
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{group}/{version}"
    return {
        "version": "0",
        "id": "844e2571-85d4-695f-b930-0153b71dcb42",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT_ID,
        "time": "2021-02-24T17:00:14Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "CreationTime": "2021-02-24T17:00:14Z",
            "InferenceSpecification": {
                "Containers": [{
                    "Image": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/tensorflow-inference:2.20-cpu",
                    "ImageDigest": "sha256:4dc8a7e4a010a19bb9e0a6b063f355393f6e623603361bd8b105f554d4f0c004",
                    "ModelDataUrl": f"s3://sagemaker-{REGION}-{ACCOUNT_ID}/{group}/Tune/output/model.tar.gz",
                }],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            "ModelPackageStatus": "Completed",
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "CertifyForMarketplace": False,
            "ModelApprovalStatus": approval_status,
            "MetadataProperties": {
                "GeneratedBy": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:pipeline/{group}/execution/4r83jejmhorv"
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://sagemaker-{REGION}-{ACCOUNT_ID}/{group}/Evaluate/evaluation.json",
                    }
                }
            },
            "LastModifiedTime": "2021-02-24T17:00:14Z",
        },
    }



def model_package_console_decision(group: str, approval_status: str, version: int = 2,
                                   user: str = "alice", domain: str = "d-xxxxxxxxxxxx") -> dict:
    """The state change a decision in the SageMaker Studio console emits: the same documented event, with the
    decision's ApprovalDescription and who made it (LastModifiedBy, DescribeModelPackage's UserContext shape).
    Whether the event carries LastModifiedBy is not documented; no rule filters on it or on the description."""
    event = model_package_state_change(group, approval_status, version)
    event["detail"]["ApprovalDescription"] = f"{user}: looked at it in Studio"
    event["detail"]["LastModifiedBy"] = {
        "UserProfileArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:user-profile/{domain}/{user}",
        "UserProfileName": user,
        "DomainId": domain,
    }
    event["detail"]["LastModifiedTime"] = "2021-02-25T09:30:00Z"
    event["time"] = "2021-02-25T09:30:00Z"
    return event

def s3_object_created(bucket: str, key: str) -> dict:
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": "2021-11-12T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 5,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT_ID,
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def cloudwatch_alarm_state_change(alarm: str, state: str, previous: str, namespace: str, metric: str) -> dict:
    evaluation = {
        "ALARM": "Threshold Crossed: 1 out of the last 1 datapoints [0.41 (02/10/19 16:59:00)] was greater "
                 "than the threshold (0.2) (minimum 1 datapoint for OK -> ALARM transition).",
        "OK": "Threshold Crossed: 1 out of the last 1 datapoints [0.05 (02/10/19 17:59:00)] was not greater "
              "than the threshold (0.2) (minimum 1 datapoint for ALARM -> OK transition).",
    }
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT_ID,
        "time": "2019-10-02T17:04:40Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "configuration": {
                "description": "Input drift of the HS-code classifier",
                "metrics": [{
                    "id": "30b6c6b2-a864-43a2-4877-c09a1afc3b87",
                    "metricStat": {
                        "metric": {
                            "dimensions": {"ModelPackageGroup": "hs-mlops-dev-classifier"},
                            "name": metric,
                            "namespace": namespace,
                        },
                        "period": 3600,
                        "stat": "Maximum",
                    },
                    "returnData": True,
                }],
            },
            "previousState": {
                "reason": evaluation.get(previous, "Unchecked: Initial alarm creation"),
                "timestamp": "2019-10-02T16:59:40.000+0000",
                "value": previous,
            },
            "state": {
                "reason": evaluation.get(state, "Insufficient Data"),
                "reasonData": '{"version":"1.0","queryDate":"2019-10-02T17:04:40.985+0000",'
                              '"statistic":"Maximum","period":3600,"recentDatapoints":[0.41],"threshold":0.2}',
                "timestamp": "2019-10-02T17:04:40.989+0000",
                "value": state,
            },
        },
    }
