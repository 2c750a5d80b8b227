"""The monitoring pipeline: DriftCheck (KL drift of the served models) and AnalyzeExperiment (one look at the A/B).

`get_pipeline()` is the same seam as pipelines/hs_code/pipeline.py: it uploads the jobs' code (content-hashed
keys, so the definition is byte-identical across builds) and builds a two-step DAG; it starts nothing. On AWS an
EventBridge Scheduler schedule (infra/monitoring.yml) starts it; locally `hscode pipeline run --local
--module-name pipelines.monitoring.pipeline` runs the same definition with the generic runner.

The two steps are independent (no edge between them): one failing does not stop the other.

DriftCheck (ProcessingStep, steps/monitor.py) reads
- ModelUri: the monitoring models prefix, <variant>/model.tar.gz (+ model.json) for each variant the router
  serves, written by the deploy when it routes traffic to a variant (infra/deploy/deploy_endpoint.py), locally by
  stage_default_data (the champion `hscode serve` picks);
- CaptureUri (as below), the last DriftWindowHours hours of it (the job's clock);
and writes drift.json (+ drift.png; a PropertyFile, DriftReport) to <prefix>/drift/<execution id>/, and publishes
HSMLOps/Drift KLDivergence, dimension ModelPackageGroup, to DriftMetricSink (cloudwatch; the local profile:
local, $HSCODE_HOME/metrics). Never cached: every execution is a new window.

AnalyzeExperiment (ProcessingStep, steps/ab_analyze.py) reads
- CaptureUri: the capture root, <endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl below it (the router's or hscode serve's);
- GroundTruthUri: the ground-truth root, yyyy/mm/dd/hh/*.jsonl below it;
- PlanUri: the experiment folder, plan.json (written by `hscode ab start`) and the earlier looks below it
  (looks/<execution id>/analysis.json, this step's own outputs), which are the analysis's history;
- ReferenceDataUri: the HS 2022 nomenclature, to refuse ground truth that is not HS 2022;
and writes analysis.json (a PropertyFile, AnalysisReport) to <PlanUri>looks/<execution id>/. No plan running is
decision "no-experiment", exit 0. Never cached.

SageMaker Processing fails a job whose S3 input prefix holds no object, so each input prefix holds a seed
object (SEED_OBJECT) from the start: stage_default_data (run by `hscode pipeline upsert`) writes it under the
default ModelUri and PlanUri (artifact bucket); the deploy writes it under the capture and ground-truth prefixes
(capture bucket) when it first routes traffic. The readers skip it (it is not in their layouts).

The jobs' code bundle is steps/ plus the few stdlib-only modules they import from pipelines/ (JOB_EXTRA_FILES):
one implementation of the capture format and of the drift check, shared with serving and the CLI.
"""
from __future__ import annotations

import os

from pipelines import settings
from pipelines.monitoring.drift import SEED_OBJECT  # noqa: F401 - the seed's name, for stage_default_data and tests

STEP_NAME = "AnalyzeExperiment"
DRIFT_STEP_NAME = "DriftCheck"
DEFAULT_PIPELINE_NAME = "hs-code-monitoring"
DEFAULT_BASE_JOB_PREFIX = "monitoring"
DEFAULT_ENDPOINT = "hs-code"

# The modules outside steps/ the jobs import (looks, observations and plans; the drift check; the capture readers
# they use, and settings for the default group and $HSCODE_HOME).
JOB_EXTRA_FILES = (
    "pipelines/__init__.py",
    "pipelines/settings.py",
    "pipelines/serving/__init__.py",
    "pipelines/serving/capture.py",
    "pipelines/serving/feedback.py",
    "pipelines/monitoring/__init__.py",
    "pipelines/monitoring/observations.py",
    "pipelines/monitoring/looks.py",
    "pipelines/monitoring/plans.py",
    "pipelines/monitoring/drift.py",
)
DEPLOYED_MODELS_PREFIX = "deployed/"  # below base_job_prefix: <variant>/model.tar.gz
DEFAULT_WINDOW_HOURS = "24"
METRIC_SINKS = ("cloudwatch", "local", "none")

PROCESSING_CODE_DIR = "/opt/ml/processing/input/code"
CAPTURE_DIR = "/opt/ml/processing/input/capture"
GROUND_TRUTH_DIR = "/opt/ml/processing/input/ground-truth"
PLAN_DIR = "/opt/ml/processing/input/plan"
REFERENCE_DIR = "/opt/ml/processing/input/reference"
OUTPUT_DIR = "/opt/ml/processing/output/analysis"
ANALYSIS_FILE = "analysis.json"
MODEL_DIR = "/opt/ml/processing/input/model"
DRIFT_OUTPUT_DIR = "/opt/ml/processing/output/drift"
DRIFT_FILE = "drift.json"


def default_uris(bucket: str, base_job_prefix: str, endpoint: str = DEFAULT_ENDPOINT) -> dict[str, str]:
    """The parameters' defaults: where stage_default_data puts the local capture, ground truth, plan and model.
    PlanUri is where `hscode ab start --backend sagemaker --bucket B` writes (ab/<endpoint>/, plans.S3_PREFIX),
    as the schedule passes it; ModelUri is where the deploy writes the variants' models."""
    from pipelines.monitoring.plans import S3_PREFIX

    root = f"s3://{bucket}/{base_job_prefix.strip('/')}"
    return {"CaptureUri": f"{root}/capture/", "GroundTruthUri": f"{root}/ground-truth/",
            "PlanUri": f"s3://{bucket}/{S3_PREFIX}/{endpoint}/", "ReferenceDataUri": f"{root}/reference/",
            "ModelUri": f"{root}/{DEPLOYED_MODELS_PREFIX}"}


def job_code_bundle(steps_dir=settings.STEPS_DIR, repo_root=settings.REPO_ROOT):
    """steps/ and JOB_EXTRA_FILES, as one CodeBundle (pipelines/hs_code/code_bundle.py)."""
    from pathlib import Path

    from pipelines.hs_code.code_bundle import CodeBundle

    steps = CodeBundle.from_directory(Path(steps_dir))
    extra = tuple((name, (Path(repo_root) / name).read_bytes()) for name in JOB_EXTRA_FILES)
    return CodeBundle(steps.files + extra)


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str,
    model_package_group_name: str = settings.DEFAULT_MODEL_PACKAGE_GROUP,
    pipeline_name: str = DEFAULT_PIPELINE_NAME,
    base_job_prefix: str = DEFAULT_BASE_JOB_PREFIX,
    *,
    sagemaker_session=None,
    job_image: str | None = None,
    steps_dir=settings.STEPS_DIR,
):
    """Builds the pipeline; uploads the job code to `default_bucket`. `model_package_group_name` is the default
    of ModelPackageGroup, the drift metric's dimension (the alarm of infra/retraining-rules.yml watches it)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.parameters import ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep

    from pipelines.hs_code.code_bundle import upload_code_bundle
    from pipelines.hs_code.pipeline import job_image_uri

    prefix = base_job_prefix.strip("/")
    session = sagemaker_session or PipelineSession(default_bucket=default_bucket)
    job_image = job_image or job_image_uri(region)
    code = upload_code_bundle(session.boto_session.client("s3", region_name=region), default_bucket, prefix,
                              job_code_bundle(steps_dir))

    defaults = default_uris(default_bucket, prefix)
    capture_uri = ParameterString("CaptureUri", default_value=defaults["CaptureUri"])
    ground_truth_uri = ParameterString("GroundTruthUri", default_value=defaults["GroundTruthUri"])
    plan_uri = ParameterString("PlanUri", default_value=defaults["PlanUri"])
    reference_uri = ParameterString("ReferenceDataUri", default_value=defaults["ReferenceDataUri"])
    endpoint_name = ParameterString("EndpointName", default_value=DEFAULT_ENDPOINT)
    instance_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.large")
    model_uri = ParameterString("ModelUri", default_value=defaults["ModelUri"])
    group = ParameterString("ModelPackageGroup", default_value=model_package_group_name)
    window_hours = ParameterString("DriftWindowHours", default_value=DEFAULT_WINDOW_HOURS)
    metric_sink = ParameterString("DriftMetricSink", default_value="cloudwatch", enum_values=list(METRIC_SINKS))
    parameters = [capture_uri, ground_truth_uri, plan_uri, reference_uri, endpoint_name, instance_type,
                  model_uri, group, window_hours, metric_sink]

    def s3_in(name, source, destination):
        return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
            s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated"))

    def job_processor(script: str, job_name: str) -> Processor:
        """A Processor running one of the bundle's steps/ scripts (both jobs share image, size and environment)."""
        return Processor(
            role=role, image_uri=job_image, instance_type=instance_type, instance_count=1,
            base_job_name=f"{prefix}-{job_name}", entrypoint=["python3", f"{PROCESSING_CODE_DIR}/steps/{script}"],
            env={"PYTHONPATH": PROCESSING_CODE_DIR, "PYTHONUNBUFFERED": "1"}, sagemaker_session=session,
        )

    processor = job_processor("ab_analyze.py", "analyze")
    report = PropertyFile(name="AnalysisReport", output_name="analysis", path=ANALYSIS_FILE)
    analyze = ProcessingStep(
        name=STEP_NAME,
        step_args=processor.run(
            inputs=[s3_in("code", code.prefix_uri, PROCESSING_CODE_DIR), s3_in("capture", capture_uri, CAPTURE_DIR),
                    s3_in("ground-truth", ground_truth_uri, GROUND_TRUTH_DIR), s3_in("plan", plan_uri, PLAN_DIR),
                    s3_in("reference", reference_uri, REFERENCE_DIR)],
            outputs=[ProcessingOutput(output_name="analysis", s3_output=ProcessingS3Output(
                s3_uri=Join(on="", values=[plan_uri, "looks/", ExecutionVariables.PIPELINE_EXECUTION_ID]),
                local_path=OUTPUT_DIR, s3_upload_mode="EndOfJob"))],
            arguments=["--plan-dir", PLAN_DIR, "--capture-dir", CAPTURE_DIR, "--ground-truth-dir", GROUND_TRUTH_DIR,
                       "--reference-dir", REFERENCE_DIR, "--endpoint-name", endpoint_name,
                       "--output-dir", OUTPUT_DIR],
        ),
        property_files=[report],
    )
    drift_processor = job_processor("monitor.py", "drift")
    drift_report = PropertyFile(name="DriftReport", output_name="drift", path=DRIFT_FILE)
    drift = ProcessingStep(
        name=DRIFT_STEP_NAME,
        step_args=drift_processor.run(
            inputs=[s3_in("code", code.prefix_uri, PROCESSING_CODE_DIR), s3_in("model", model_uri, MODEL_DIR),
                    s3_in("capture", capture_uri, CAPTURE_DIR)],
            outputs=[ProcessingOutput(output_name="drift", s3_output=ProcessingS3Output(
                s3_uri=Join(on="", values=[f"s3://{default_bucket}/{prefix}/drift/",
                                           ExecutionVariables.PIPELINE_EXECUTION_ID]),
                local_path=DRIFT_OUTPUT_DIR, s3_upload_mode="EndOfJob"))],
            arguments=["--model-dir", MODEL_DIR, "--capture-dir", CAPTURE_DIR, "--endpoint-name", endpoint_name,
                       "--window-hours", window_hours, "--group", group, "--metric-sink", metric_sink,
                       "--output-dir", DRIFT_OUTPUT_DIR],
        ),
        property_files=[drift_report],
    )
    return Pipeline(name=pipeline_name, parameters=parameters, steps=[drift, analyze], sagemaker_session=session)
