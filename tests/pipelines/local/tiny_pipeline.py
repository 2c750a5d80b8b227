"""A second pipeline module, as small as one can be: one Processing step, one parameter, no profiles, no hooks.

It stands for the pipelines to come (monitoring): `hscode pipeline run --local --module-name
tests.pipelines.local.tiny_pipeline` must run it with no change to the runner.
"""
from __future__ import annotations

import os

INPUT = "/opt/ml/processing/input/rows"
OUTPUT = "/opt/ml/processing/output"
# The job: count the input's lines into counts.txt (inline, so the module needs no code upload).
COUNT_LINES = f"""
import pathlib
rows = sum(len(p.read_text().splitlines()) for p in sorted(pathlib.Path("{INPUT}").glob("*.csv")))
pathlib.Path("{OUTPUT}", "counts.txt").write_text(str(rows))
print("counted", rows, "rows")
"""


def get_pipeline(region: str, role: str, default_bucket: str, model_package_group_name: str = "tiny-models",
                 pipeline_name: str = "tiny-pipeline", base_job_prefix: str = "tiny", *, sagemaker_session=None):
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    rows_uri = ParameterString("RowsUri", default_value=f"s3://{default_bucket}/{base_job_prefix}/rows/")
    processor = Processor(role=role, image_uri="python:3.12-slim", instance_type="ml.t3.medium", instance_count=1,
                          entrypoint=["python3", "-c", COUNT_LINES], sagemaker_session=sagemaker_session)
    count = ProcessingStep(name="CountRows", step_args=processor.run(
        inputs=[ProcessingInput(input_name="rows", s3_input=ProcessingS3Input(
            s3_uri=rows_uri, local_path=INPUT, s3_data_type="S3Prefix", s3_input_mode="File"))],
        outputs=[ProcessingOutput(output_name="counts", s3_output=ProcessingS3Output(
            s3_uri=Join(on="/", values=["s3:/", default_bucket, base_job_prefix,
                                        ExecutionVariables.PIPELINE_EXECUTION_ID, "counts"]),
            local_path=OUTPUT, s3_upload_mode="EndOfJob"))],
    ))
    return Pipeline(name=pipeline_name, parameters=[rows_uri], steps=[count], sagemaker_session=sagemaker_session)
