"""What the `hscode pipeline upsert|start` commands do against SageMaker (kept apart from the DAG)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from pipelines.parameters import as_text, check_overrides, parse_assignments
from steps.hsml.cli_errors import JobFailed

TERMINAL_STATUSES = {"Succeeded", "Failed", "Stopped"}


@dataclass(frozen=True)
class AwsTarget:
    region: str
    role_arn: str
    bucket: str
    pipeline_name: str
    model_package_group: str
    base_job_prefix: str


def ensure_model_package_group(sagemaker_client, group_name: str, pipeline_name: str | None = None) -> bool:
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
        ModelPackageGroupDescription=f"model packages registered by the {pipeline_name or group_name} pipeline",
    )
    return True


def upsert(target: AwsTarget, module, *, stage_data: bool = True, **pipeline_options) -> dict:
    """Makes sure the group exists, stages the module's default data, builds and upserts the pipeline.

    `module`: the pipelines.local.pipeline_module.PipelineModule whose get_pipeline() builds it.
    """
    import boto3

    boto_session = boto3.Session(region_name=target.region)
    created_group = ensure_model_package_group(boto_session.client("sagemaker"), target.model_package_group,
                                               target.pipeline_name)
    staged = (module.stage_default_data(boto_session.client("s3"), target.bucket, target.base_job_prefix)
              if stage_data else [])

    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(boto_session=boto_session, default_bucket=target.bucket)
    pipeline = module.get_pipeline(
        region=target.region, role=target.role_arn, default_bucket=target.bucket,
        model_package_group_name=target.model_package_group, pipeline_name=target.pipeline_name,
        base_job_prefix=target.base_job_prefix, sagemaker_session=session, **pipeline_options,
    )
    response = pipeline.upsert(role_arn=target.role_arn, description=module.description)
    return {"PipelineArn": response["PipelineArn"], "CreatedModelPackageGroup": created_group, "StagedData": staged}


def deployed_definition(sagemaker_client, pipeline_name: str) -> dict:
    from botocore.exceptions import ClientError

    try:
        described = sagemaker_client.describe_pipeline(PipelineName=pipeline_name)
    except ClientError as error:
        raise JobFailed(f"pipeline {pipeline_name!r} not found: run `hscode pipeline upsert` first ({error})") from None
    return json.loads(described["PipelineDefinition"])


def start(sagemaker_client, pipeline_name: str, assignments: list[str], display_name: str | None = None) -> str:
    """Starts an execution with parameter overrides checked against the deployed definition; returns its ARN."""
    params = parse_assignments(assignments)  # syntax first: no AWS call for a typo
    declared = deployed_definition(sagemaker_client, pipeline_name).get("Parameters", [])
    checked = check_overrides(declared, params)
    request = {"PipelineName": pipeline_name,
               "PipelineParameters": [{"Name": name, "Value": as_text(value)} for name, value in checked.items()]}
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
