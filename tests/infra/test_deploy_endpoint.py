"""infra/deploy/deploy_endpoint.py against moto's SageMaker: which package it deploys, and the smoke check."""
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


def register(client, status: str, group: str = GROUP) -> str:
    return client.create_model_package(
        ModelPackageGroupName=group, ModelApprovalStatus=status,
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
