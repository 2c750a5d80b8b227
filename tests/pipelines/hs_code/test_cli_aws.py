"""`hscode pipeline upsert|start|definition` against a moto server standing in for SageMaker and S3."""
from __future__ import annotations

import json

import boto3
import pytest

from pipelines.cli import main
from pipelines.hs_code.pipeline import STEP_NAMES

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/hs-code-pipeline"
BUCKET = "hscode-test-artifacts"


ENV = {
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "SAGEMAKER_VALIDATE_ROLE": "false",
    "SAGEMAKER_PIPELINE_ROLE_ARN": ROLE, "HSCODE_ARTIFACT_BUCKET": BUCKET,
}
PIPELINE = "hs-test"
GROUP = "hs-test-group"


@pytest.fixture(scope="module")
def aws(moto_endpoint, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**ENV, "AWS_ENDPOINT_URL": moto_endpoint,
                            "HSCODE_HOME": str(tmp_path_factory.mktemp("home"))}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session


@pytest.fixture(scope="module")
def upserted(aws):
    """The pipeline upserted once for the module (each upsert builds the definition: seconds)."""
    assert main(["pipeline", "upsert", "--pipeline-name", PIPELINE, "--model-package-group", GROUP]) == 0
    return PIPELINE


def _executions(aws) -> list:
    return aws.client("sagemaker").list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]


def test_upsert_creates_pipeline_group_and_stages_data(aws, upserted, capsys):
    sagemaker = aws.client("sagemaker")
    arn = sagemaker.describe_pipeline(PipelineName=PIPELINE)["PipelineArn"]
    definition = json.loads(sagemaker.describe_pipeline(PipelineName=PIPELINE)["PipelineDefinition"])
    # The top-level steps; CheckNewModel (with Register) and Fail are the CheckQuality branches.
    assert {s["Name"] for s in definition["Steps"]} | {"CheckNewModel", "Register", "Fail"} == set(STEP_NAMES)
    assert sagemaker.describe_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupName"] == GROUP
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "hs-code/data/hs_descriptions_full.csv.gz" in keys
    assert "hs-code/reference/hs2022_nomenclature.csv" in keys
    assert any(k.startswith("hs-code/code/") and k.endswith("/files/steps/__init__.py") for k in keys)

    # A second upsert updates the same pipeline; the group exists and the data is not uploaded again.
    capsys.readouterr()
    assert main(["pipeline", "upsert", "--pipeline-name", PIPELINE, "--model-package-group", GROUP]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == arn
    assert "created model package group" not in err and "staged" not in err


def test_start_with_params_and_wait(aws, upserted, capsys):
    code = main(["pipeline", "start", "--pipeline-name", PIPELINE, "--param", "MaxTuningJobs=2",
                 "--param", "QualityThreshold=0.5", "--wait", "--poll-seconds", "0.1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    described = aws.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=out.strip())
    assert described["PipelineExecutionStatus"] == "Succeeded"  # moto finishes executions at once
    assert "execution Succeeded" in err


# The same parser and messages as `hscode pipeline run --local` (pipelines/parameters.py).
@pytest.mark.parametrize("params, message", [
    (["MaxTuningJobs"], "--param 'MaxTuningJobs': write it as Name=Value"),
    (["=3"], "--param '=3': write it as Name=Value"),
    (["NoSuchParameter=1"], "unknown parameter(s) NoSuchParameter; the pipeline's parameters are: "),
    (["MaxTuningJobs=many"], "parameter MaxTuningJobs is an Integer: 'many' is not a whole number"),
    (["QualityThreshold=high"], "parameter QualityThreshold is a Float: 'high' is not a number"),
    (["MaxTuningJobs=2", "MaxTuningJobs=3"], "--param MaxTuningJobs is given twice ('2' and '3'): give it once"),
])
def test_start_rejects_bad_params(aws, upserted, capsys, params, message):
    before = len(_executions(aws))
    code = main(["pipeline", "start", "--pipeline-name", PIPELINE, *[f"--param={p}" for p in params]])
    assert code == 2
    assert capsys.readouterr().err.startswith("hscode pipeline start: error: " + message)
    assert len(_executions(aws)) == before


def test_start_sends_the_checked_values(aws, upserted, capsys):
    assert main(["pipeline", "start", "--pipeline-name", PIPELINE, "--param", "MaxTuningJobs=3"]) == 0
    arn = capsys.readouterr().out.strip()
    sent = aws.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert {"Name": "MaxTuningJobs", "Value": "3"} in sent


def test_upsert_takes_any_pipeline_module(aws, capsys):
    assert main(["pipeline", "upsert", "--module-name", "tests.pipelines.local.tiny_pipeline"]) == 0
    described = aws.client("sagemaker").describe_pipeline(PipelineName="tiny-pipeline")
    assert capsys.readouterr().out.strip() == described["PipelineArn"]
    assert [s["Name"] for s in json.loads(described["PipelineDefinition"])["Steps"]] == ["CountRows"]
    assert described["PipelineDescription"].startswith("A second pipeline module")


def test_definition_with_credentials_uploads_code_to_the_bucket(aws, capsys):
    assert main(["pipeline", "definition", "--base-job-prefix", "hs-def"]) == 0
    captured = capsys.readouterr()
    definition = json.loads(captured.out)
    assert "offline" not in captured.err
    static = next(s for s in definition["Steps"] if s["Name"] == "Tune")["Arguments"][
        "TrainingJobDefinition"]["StaticHyperParameters"]
    key = static["sagemaker_submit_directory"].removeprefix(f"s3://{BUCKET}/")
    assert key.startswith("hs-def/code/")
    assert aws.client("s3").head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0


def test_start_of_unknown_pipeline_says_to_upsert(aws, capsys):
    assert main(["pipeline", "start", "--pipeline-name", "never-upserted"]) == 1
    assert capsys.readouterr().err.startswith("hscode pipeline start: error: pipeline 'never-upserted' not found: "
                                              "run `hscode pipeline upsert` first")


def test_upsert_without_role_or_bucket_says_what_to_set(monkeypatch, capsys):
    monkeypatch.delenv("SAGEMAKER_PIPELINE_ROLE_ARN")
    monkeypatch.delenv("HSCODE_ARTIFACT_BUCKET")
    assert main(["pipeline", "upsert"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hscode pipeline upsert: error: upsert needs ")
    assert "--role-arn or $SAGEMAKER_PIPELINE_ROLE_ARN" in err and "--bucket or $HSCODE_ARTIFACT_BUCKET" in err


def test_definition_offline_without_credentials(monkeypatch, capsys, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                 "SAGEMAKER_PIPELINE_ROLE_ARN", "HSCODE_ARTIFACT_BUCKET", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["pipeline", "definition"]) == 0
    definition = json.loads(capsys.readouterr().out)
    assert {p["Name"] for p in definition["Parameters"]} >= {"InputDataUri", "QualityThreshold", "MaxTuningJobs"}
