"""What the `hscode pipeline upsert|start` commands do against SageMaker (kept apart from the DAG)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

TERMINAL_STATUSES = {"Succeeded", "Failed", "Stopped"}


class ParameterError(ValueError):
    """A --param that is malformed, unknown to the pipeline, or of the wrong type."""


@dataclass(frozen=True)
class AwsTarget:
    region: str
    role_arn: str
    bucket: str
    pipeline_name: str
    model_package_group: str
    base_job_prefix: str


def ensure_model_package_group(sagemaker_client, group_name: str) -> bool:
    """Creates the model package group unless it exists; returns True when it was created."""
    from botocore.exceptions import ClientError

    try:
        sagemaker_client.describe_model_package_group(ModelPackageGroupName=group_name)
        return False
    except ClientError as error:
        # SageMaker answers ValidationException ("... does not exist") for a missing group.
        if error.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
    sagemaker_client.create_model_package_group(
        ModelPackageGroupName=group_name,
        ModelPackageGroupDescription="HS 2022 six-digit code classifiers from the hs-code pipeline",
    )
    return True


def upsert(target: AwsTarget, *, stage_data: bool = True, **pipeline_options) -> dict:
    """Makes sure the group exists, stages the bundled data, builds and upserts the pipeline."""
    import boto3

    from pipelines.hs_code.pipeline import get_pipeline
    from pipelines.hs_code.staging import stage_bundled_data

    boto_session = boto3.Session(region_name=target.region)
    created_group = ensure_model_package_group(boto_session.client("sagemaker"), target.model_package_group)
    staged = stage_bundled_data(boto_session.client("s3"), target.bucket, target.base_job_prefix) if stage_data else []

    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(boto_session=boto_session, default_bucket=target.bucket)
    pipeline = get_pipeline(
        region=target.region, role=target.role_arn, default_bucket=target.bucket,
        model_package_group_name=target.model_package_group, pipeline_name=target.pipeline_name,
        base_job_prefix=target.base_job_prefix, sagemaker_session=session, **pipeline_options,
    )
    response = pipeline.upsert(role_arn=target.role_arn, description="HS-code classification: preprocess, "
                               "Bayesian tuning, evaluation, quality gate, model registry")
    return {"PipelineArn": response["PipelineArn"], "CreatedModelPackageGroup": created_group, "StagedData": staged}


def parse_param_assignments(assignments: list[str]) -> dict[str, str]:
    """["Name=Value", ...] → {Name: Value}; raises ParameterError on anything else."""
    parsed: dict[str, str] = {}
    for item in assignments or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"--param {item!r}: expected Name=Value, e.g. --param MaxTuningJobs=4")
        if name in parsed:
            raise ParameterError(f"--param {name} given twice")
        parsed[name] = value
    return parsed


def validate_params(params: dict[str, str], definition: dict) -> list[dict]:
    """Checks names and types against the definition's Parameters; returns the API's PipelineParameters."""
    declared = {p["Name"]: p.get("Type", "String") for p in definition.get("Parameters", [])}
    result = []
    for name, value in params.items():
        if name not in declared:
            raise ParameterError(f"--param {name}: the pipeline has no such parameter; it has: {', '.join(sorted(declared))}")
        kind = declared[name]
        try:
            if kind == "Integer":
                int(value)
            elif kind == "Float":
                float(value)
            elif kind == "Boolean" and value.lower() not in ("true", "false"):
                raise ValueError
        except ValueError:
            raise ParameterError(f"--param {name}={value!r}: {name} is {kind}, the value is not") from None
        result.append({"Name": name, "Value": value})
    return result


def deployed_definition(sagemaker_client, pipeline_name: str) -> dict:
    from botocore.exceptions import ClientError

    try:
        described = sagemaker_client.describe_pipeline(PipelineName=pipeline_name)
    except ClientError as error:
        raise LookupError(f"pipeline {pipeline_name!r} not found: run `hscode pipeline upsert` first ({error})") from None
    return json.loads(described["PipelineDefinition"])


def start(sagemaker_client, pipeline_name: str, assignments: list[str], display_name: str | None = None) -> str:
    """Starts an execution with validated parameter overrides; returns its ARN."""
    params = parse_param_assignments(assignments)  # syntax first: no AWS call for a typo
    pipeline_parameters = validate_params(params, deployed_definition(sagemaker_client, pipeline_name))
    request = {"PipelineName": pipeline_name, "PipelineParameters": pipeline_parameters}
    if display_name:
        request["PipelineExecutionDisplayName"] = display_name
    return sagemaker_client.start_pipeline_execution(**request)["PipelineExecutionArn"]


def wait(sagemaker_client, execution_arn: str, *, poll_seconds: float = 30, report=print) -> dict:
    """Polls until the execution ends, reporting each step status change; returns the last description."""
    from botocore.exceptions import ClientError

    seen: dict[str, str] = {}
    list_steps = True
    while True:
        described = sagemaker_client.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        steps = []
        if list_steps:
            try:
                steps = sagemaker_client.list_pipeline_execution_steps(PipelineExecutionArn=execution_arn).get(
                    "PipelineExecutionSteps", [])
            except ClientError as error:  # step progress is a nicety: keep waiting without it
                report(f"  (step statuses unavailable: {error.response.get('Error', {}).get('Code', error)})")
                list_steps = False
        for step in reversed(steps):  # the API lists the newest first
            name, status = step.get("StepName", "?"), step.get("StepStatus", "?")
            if seen.get(name) != status:
                seen[name] = status
                reason = f" ({step['FailureReason']})" if step.get("FailureReason") else ""
                report(f"  {name}: {status}{reason}")
        status = described["PipelineExecutionStatus"]
        if status in TERMINAL_STATUSES:
            return described
        time.sleep(poll_seconds)
