"""The HS-code SageMaker pipeline: SnapshotData → Preprocess → Tune → Evaluate → CheckQuality → (CheckNewModel →
Register | nothing) | Fail.

`get_pipeline()` is the one seam (as in the SageMaker project templates): it uploads the `steps/` code
(content-hashed keys, below) and builds the DAG; it starts nothing. The CLI (`hscode pipeline
definition|upsert|start`) and the local runner both call it.

Retraining sees new data through a content-addressed snapshot (steps/hsml/snapshot.py):
SnapshotData is never cached; it copies InputDataUri and ReferenceDataUri to
s3://<default_bucket>/<base_job_prefix>/snapshots/<content hash>/{data,reference}/ and declares
snapshot.json as a property file. Preprocess and Evaluate read that copy, so their arguments, once
resolved, name the content: unchanged data resolves to the same URIs, the same cache keys, and
Preprocess and Tune are cache hits; one new file gives a new hash and everything downstream
runs. (Evaluate is never cached: it also reads the approved model, from a fixed prefix whose content
changes.) This relies on step caching comparing *resolved* arguments. SageMaker's documentation says a
cached step is reused "when the step has the same configuration and inputs", matched on "the same
values for certain attributes" (docs.aws.amazon.com/sagemaker/latest/dg/pipelines-caching.html), and
a step fed a per-execution property misses the cache (aws/sagemaker-python-sdk#3392: a transform
after a ModelStep), i.e. property references are compared by value. The pipeline already depends on
it: Tune's input is Preprocess's per-execution output prefix. The local runner resolves arguments
before it computes a cache key (pipelines/local/caching.py), so both behave the same.

A candidate that is the approved model itself (same model.tar.gz sha256: unchanged data after an approval, so
Tune was a cache hit) passes the gate and is not registered again: CheckNewModel, nested in the gate's passing
branch, registers only a model that is not already in service, and the execution succeeds either way.

Everything a registered version carries (metrics, execution id, data hash, the model's sha256) is in
the Register step's CreateModelPackage request as CustomerMetadataProperties, resolved at run time;
no registry back end reads a side file.

How the job code gets into the containers (no Docker build needed, prebuilt SageMaker images):
- Processing: the `steps/` package is uploaded file by file under a content-hashed S3 prefix and
  mounted as a ProcessingInput at /opt/ml/processing/input/code, so the container holds
  /opt/ml/processing/input/code/steps/...; the job runs `python3 .../steps/<script>.py` with
  PYTHONPATH=/opt/ml/processing/input/code, so `import steps.hsml` works.
- Training (inside the tuning job): SageMaker framework script mode. The same files, as a
  reproducible sourcedir.tar.gz, are named by the `sagemaker_submit_directory` hyper-parameter;
  the TensorFlow container extracts it into /opt/ml/code and runs `sagemaker_program`
  (steps/train.py) there; PYTHONPATH=/opt/ml/code makes `steps` importable.
Keys hold a hash of the code, so the definition is byte-identical across builds (step caching
survives every upsert) and changes exactly when the code does.
"""
from __future__ import annotations

import os

from pipelines import settings

STEP_NAMES = ("SnapshotData", "Preprocess", "Tune", "Evaluate", "CheckQuality", "CheckNewModel", "Register", "Fail")

# The gate reads exactly this path in evaluation.json (SageMaker model-quality format).
METRICS_ROOT = "multiclass_classification_metrics"
ACCURACY_JSON_PATH = f"{METRICS_ROOT}.accuracy.value"
# The headline test metrics every registered version carries (CustomerMetadataProperties "metric.<name>").
# Only names that evaluation.json always holds (steps/hsml/metrics.py: model_quality_report), since a
# JsonGet on a missing path fails the step; the full report stays at ModelMetrics' evaluation.json.
REGISTERED_METRICS = (
    "accuracy", "hs6_top3_accuracy", "hs6_top5_accuracy", "hs4_top1_accuracy", "hs2_top1_accuracy",
    "macro_f1", "weighted_f1", "unseen_label_rate",
    "accept_threshold",  # serving's accept/review cut-off (steps/hsml/metrics.py: ACCEPT_PRECISION)
    "accept_threshold_hs4", "accept_threshold_hs2",  # the same 95 % cut-off for the heading and chapter answers
)
# Two numbers of generalisation.json (the long-text probes of the test rows) every version carries too
# (CustomerMetadataProperties "metric.<name>"), as evaluation.json's are.
GENERALISATION_METRICS = {"probe_hs6_accuracy": "hs6_top1_accuracy",
                          "probe_commonest_share": "commonest_predicted_share"}
# The gate's comparison with the approved model (steps/hsml/approved_comparison.py: comparison.json).
COMPARISON_FLOOR_JSON_PATH = "floor"
COMPARISON_MESSAGE_JSON_PATH = "message"
COMPARISON_SAME_MODEL_JSON_PATH = "candidate_is_approved"  # 1 when the candidate is the approved archive
DEFAULT_MAX_REGRESSION = 0.03
# Where the snapshot job and Evaluate's lineage file keep what the Register step reads.
SNAPSHOT_HASH_JSON_PATH = "hash"
MODEL_SHA256_JSON_PATH = "model_sha256"

# TensorFlow: SageMaker's newest serving image is 2.20 (what the project pins). There is no 2.20
# training image; 2.19 is the newest below it, and a SavedModel written by 2.19 loads in Serving 2.20.
TRAINING_TF_VERSION = "2.19"
SERVING_TF_VERSION = "2.20"
JOB_PY_VERSION = "py312"
CPU_INSTANCE_FOR_IMAGE_LOOKUP = "ml.m5.xlarge"

CACHE_EXPIRY = "P30D"

# Container paths (the step scripts' defaults; passed explicitly so the definition documents them).
PROCESSING_CODE_DIR = "/opt/ml/processing/input/code"
SNAPSHOTS_DIR = "/opt/ml/processing/snapshots"
SNAPSHOT_MANIFEST_DIR = "/opt/ml/processing/manifest"
INPUT_DATA_DIR = "/opt/ml/processing/input/data"
REFERENCE_DIR = "/opt/ml/processing/input/reference"
PREPROCESS_OUTPUT_DIR = "/opt/ml/processing/output"
EVALUATE_MODEL_DIR = "/opt/ml/processing/model"
EVALUATE_TEST_DIR = "/opt/ml/processing/test"
EVALUATE_OUTPUT_DIR = "/opt/ml/processing/evaluation"
EVALUATE_APPROVED_DIR = "/opt/ml/processing/approved"
TRAINING_CODE_DIR = "/opt/ml/code"


def default_data_uri(bucket: str, base_job_prefix: str) -> str:
    """Where the bundled dataset is staged (and the default of the InputDataUri parameter)."""
    return f"s3://{bucket}/{base_job_prefix}/data/"


def default_reference_uri(bucket: str, base_job_prefix: str) -> str:
    """Where the HS 2022 nomenclature is staged (default of ReferenceDataUri)."""
    return f"s3://{bucket}/{base_job_prefix}/reference/"


def snapshots_root_uri(bucket: str, base_job_prefix: str) -> str:
    """Where SnapshotData writes <hash>/{data,reference}/: the artifact bucket, never the data bucket
    whose training-data prefix the retraining rule watches (infra/retraining-rules.yml), so the copy
    itself never looks like new data."""
    return f"s3://{bucket}/{base_job_prefix.strip('/')}/snapshots"


def job_image_uri(region: str) -> str:
    """SageMaker's TensorFlow training CPU image: runs the processing scripts and the training."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="tensorflow", region=region, version=TRAINING_TF_VERSION, py_version=JOB_PY_VERSION,
        image_scope="training", instance_type=CPU_INSTANCE_FOR_IMAGE_LOOKUP,
    )


def serving_image_uri(region: str) -> str:
    """SageMaker's TensorFlow Serving 2.20 CPU image: serves model.tar.gz as trained (1/ + code/inference.py)."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="tensorflow", region=region, version=SERVING_TF_VERSION,
        image_scope="inference", instance_type=CPU_INSTANCE_FOR_IMAGE_LOOKUP,
    )


def get_pipeline(
    region: str,
    role: str,
    default_bucket: str,
    model_package_group_name: str = settings.DEFAULT_MODEL_PACKAGE_GROUP,
    pipeline_name: str = settings.DEFAULT_PIPELINE_NAME,
    base_job_prefix: str = "hs-code",
    *,
    sagemaker_session=None,
    job_image: str | None = None,
    serving_image: str | None = None,
    steps_dir=settings.STEPS_DIR,
    default_quality_threshold: float = 0.30,
    default_max_regression: float = DEFAULT_MAX_REGRESSION,
    default_max_tuning_jobs: int = 12,
    default_max_parallel_jobs: int = 3,
    static_hyperparameters: dict | None = None,
    search_space: str = "full",
):
    """Builds the pipeline. Uploads the steps/ code to `default_bucket` (content-hashed keys).

    `sagemaker_session`: a PipelineSession to use (default: one for `region`). `job_image` /
    `serving_image` replace SageMaker's prebuilt TensorFlow images (see containers/README.md).
    `static_hyperparameters` override the fixed training hyper-parameters, e.g. {"epochs": "4"} for a
    quick run (the tuned ones cannot be fixed this way). `search_space` picks the tuning ranges
    ("full", or "quick" for a few short laptop trials; see pipelines/hs_code/tuning.py).
    """
    # The SDK creates boto3 clients at import time; give them a region before the first import.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from sagemaker.core.metadata_properties import MetadataProperties
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import Processor
    from sagemaker.core.shapes import (
        OutputDataConfig, ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output, StoppingCondition,
    )
    from sagemaker.core.training.configs import Compute
    from sagemaker.core.workflow.conditions import ConditionEquals, ConditionGreaterThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import CacheConfig, ProcessingStep, TuningStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train import ModelTrainer

    from pipelines.hs_code.code_bundle import CodeBundle, upload_code_bundle
    from pipelines.hs_code.tuning import (
        METRIC_DEFINITIONS, OBJECTIVE_METRIC, OBJECTIVE_TYPE, STATIC_HYPERPARAMETERS, ParameterizedLimitsTuner,
        hyperparameter_ranges,
    )
    from pipelines.registry.approved_pointer import ApprovedPointer, S3ObjectStore
    from pipelines.registry.request import CHECKSUM, DATA_HASH, EXECUTION_ID, METRIC_PREFIX

    fixed = {**STATIC_HYPERPARAMETERS, **{k: str(v) for k, v in (static_hyperparameters or {}).items()}}
    ranges = hyperparameter_ranges(search_space)
    tuned_and_fixed = set(fixed) & set(ranges)
    if tuned_and_fixed:
        raise ValueError(f"static_hyperparameters: {', '.join(sorted(tuned_and_fixed))} are tuned; "
                         "narrow the range in pipelines/hs_code/tuning.py instead")
    prefix = base_job_prefix.strip("/")
    session = sagemaker_session or PipelineSession(default_bucket=default_bucket)
    job_image = job_image or job_image_uri(region)
    serving_image = serving_image or serving_image_uri(region)
    s3 = session.boto_session.client("s3", region_name=region)
    code = upload_code_bundle(s3, default_bucket, prefix, CodeBundle.from_directory(steps_dir))
    # Evaluate reads the group's approved-model pointer; SageMaker refuses an input prefix with no object, so
    # an empty one gets {"model": null} (an existing pointer is never touched: approvals write it).
    approved = ApprovedPointer(S3ObjectStore(s3), default_bucket, prefix)
    approved.seed(model_package_group_name)
    approved_uri = approved.prefix_uri(model_package_group_name)
    cache = CacheConfig(enable_caching=True, expire_after=CACHE_EXPIRY)

    # ---- parameters (overridable per execution: `hscode pipeline start --param Name=Value`)
    input_data_uri = ParameterString("InputDataUri", default_value=default_data_uri(default_bucket, prefix))
    reference_data_uri = ParameterString("ReferenceDataUri", default_value=default_reference_uri(default_bucket, prefix))
    processing_instance_type = ParameterString("ProcessingInstanceType", default_value="ml.m5.xlarge")
    processing_instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    training_instance_type = ParameterString("TrainingInstanceType", default_value="ml.m5.xlarge")
    training_instance_count = ParameterInteger("TrainingInstanceCount", default_value=1)
    max_tuning_jobs = ParameterInteger("MaxTuningJobs", default_value=default_max_tuning_jobs)
    max_parallel_jobs = ParameterInteger("MaxParallelTuningJobs", default_value=default_max_parallel_jobs)
    quality_threshold = ParameterFloat("QualityThreshold", default_value=default_quality_threshold)
    max_regression = ParameterFloat("MaxRegressionVsApproved", default_value=default_max_regression)
    approval_status = ParameterString("ModelApprovalStatus", default_value="PendingManualApproval")
    parameters = [
        input_data_uri, reference_data_uri, processing_instance_type, processing_instance_count,
        training_instance_type, training_instance_count, max_tuning_jobs, max_parallel_jobs,
        quality_threshold, max_regression, approval_status,
    ]

    def s3_in(name, source, destination):
        return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
            s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File",
            s3_data_distribution_type="FullyReplicated"))

    def s3_out(name, source):
        # Per-execution output prefix; the execution id is resolved by SageMaker (and the local runner).
        destination = Join(on="/", values=["s3:/", default_bucket, prefix, ExecutionVariables.PIPELINE_EXECUTION_ID, name])
        return ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
            s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"))

    def script_processor(script: str, job_name: str) -> Processor:
        return Processor(
            role=role, image_uri=job_image, instance_type=processing_instance_type,
            instance_count=processing_instance_count, base_job_name=f"{prefix}-{job_name}",
            entrypoint=["python3", f"{PROCESSING_CODE_DIR}/steps/{script}"],
            env={"PYTHONPATH": PROCESSING_CODE_DIR, "PYTHONUNBUFFERED": "1"},
            sagemaker_session=session,
        )

    code_input = s3_in("code", code.prefix_uri, PROCESSING_CODE_DIR)

    # ---- SnapshotData: the inputs copied under a content-addressed prefix (see the module docstring).
    # No CacheConfig: it must look at the data on every execution. Its "snapshots" output is the static
    # root (the job writes <hash>/... under it; the same data re-uploads the same keys, harmlessly).
    snapshots_root = snapshots_root_uri(default_bucket, prefix)
    data_snapshot = PropertyFile(name="DataSnapshot", output_name="manifest", path="snapshot.json")
    snapshot = ProcessingStep(
        name="SnapshotData",
        step_args=script_processor("snapshot.py", "snapshot").run(
            inputs=[code_input, s3_in("data", input_data_uri, INPUT_DATA_DIR),
                    s3_in("reference", reference_data_uri, REFERENCE_DIR)],
            outputs=[ProcessingOutput(output_name="snapshots", s3_output=ProcessingS3Output(
                         s3_uri=snapshots_root, local_path=SNAPSHOTS_DIR, s3_upload_mode="EndOfJob")),
                     s3_out("manifest", SNAPSHOT_MANIFEST_DIR)],
            arguments=["--data-dir", INPUT_DATA_DIR, "--reference-dir", REFERENCE_DIR,
                       "--snapshots-dir", SNAPSHOTS_DIR, "--manifest-dir", SNAPSHOT_MANIFEST_DIR],
        ),
        property_files=[data_snapshot],
    )
    data_hash = JsonGet(step_name=snapshot.name, property_file=data_snapshot, json_path=SNAPSHOT_HASH_JSON_PATH)
    snapshot_data_uri = Join(on="/", values=[snapshots_root, data_hash, "data/"])
    snapshot_reference_uri = Join(on="/", values=[snapshots_root, data_hash, "reference/"])

    # ---- Preprocess: clean, split and encode the descriptions; writes everything flat into one output.
    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=script_processor("preprocess.py", "preprocess").run(
            inputs=[code_input, s3_in("data", snapshot_data_uri, INPUT_DATA_DIR),
                    s3_in("reference", snapshot_reference_uri, REFERENCE_DIR)],
            outputs=[s3_out("prepared", PREPROCESS_OUTPUT_DIR)],
            arguments=["--input-dir", INPUT_DATA_DIR, "--reference-dir", REFERENCE_DIR,
                       "--output-dir", PREPROCESS_OUTPUT_DIR],
        ),
        cache_config=cache,
    )
    prepared_uri = preprocess.properties.ProcessingOutputConfig.Outputs["prepared"].S3Output.S3Uri

    # ---- Tune: Bayesian search over the model family and its hyper-parameters (objective val_robust_accuracy:
    # in-domain validation and its long-text probes, steps/hsml/epoch_metrics.py).
    trainer = ModelTrainer(
        training_image=job_image,
        role=role,
        sagemaker_session=session,
        base_job_name=f"{prefix}-train",
        compute=Compute(instance_type=training_instance_type, instance_count=training_instance_count,
                        volume_size_in_gb=30),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=4 * 3600),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{default_bucket}/{prefix}/training"),
        environment={"PYTHONPATH": TRAINING_CODE_DIR, "PYTHONUNBUFFERED": "1"},
        # Framework script mode (see the module docstring): no `source_code`, so the SDK uploads nothing
        # with a timestamped key; the container fetches our content-hashed tarball instead.
        hyperparameters={**fixed, "sagemaker_program": "steps/train.py",
                         "sagemaker_submit_directory": code.tarball_uri},
    )
    tuner = ParameterizedLimitsTuner(
        model_trainer=trainer,
        objective_metric_name=OBJECTIVE_METRIC,
        objective_type=OBJECTIVE_TYPE,
        hyperparameter_ranges=ranges,
        metric_definitions=METRIC_DEFINITIONS,
        strategy="Bayesian",
        max_jobs=max_tuning_jobs,
        max_parallel_jobs=max_parallel_jobs,
        random_seed=42,
        base_tuning_job_name=f"{prefix}-tune",
    )
    # Both channels are the prepared prefix: train.py finds train.csv + encoder.json and validation.csv there.
    tune = TuningStep(
        name="Tune",
        step_args=tuner.tune(inputs={"train": prepared_uri, "validation": prepared_uri}),
        cache_config=cache,
    )
    best_model_uri = tune.get_top_model_s3_uri(top_k=0, s3_bucket=default_bucket, prefix=f"{prefix}/training")

    # ---- Evaluate: the best trial's model on the held-out test split, and the group's approved model on the same
    # rows. Four property files in its output: evaluation.json (the metrics), lineage.json (the sha256 of the
    # model.tar.gz it scored), generalisation.json (the long-text probes of the test rows) and comparison.json
    # (against the approved model). Never cached: the approved model is read from a fixed prefix whose content
    # changes with every approval, and a cache key sees the prefix, not its content.
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluation_lineage = PropertyFile(name="EvaluationLineage", output_name="evaluation", path="lineage.json")
    generalisation_report = PropertyFile(name="GeneralisationReport", output_name="evaluation",
                                         path="generalisation.json")
    approved_comparison = PropertyFile(name="ApprovedComparison", output_name="evaluation", path="comparison.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=script_processor("evaluate.py", "evaluate").run(
            inputs=[code_input, s3_in("model", best_model_uri, EVALUATE_MODEL_DIR),
                    s3_in("test", prepared_uri, EVALUATE_TEST_DIR),
                    s3_in("reference", snapshot_reference_uri, REFERENCE_DIR),
                    s3_in("approved", approved_uri, EVALUATE_APPROVED_DIR)],
            outputs=[s3_out("evaluation", EVALUATE_OUTPUT_DIR)],
            arguments=["--model-dir", EVALUATE_MODEL_DIR, "--test-dir", EVALUATE_TEST_DIR,
                       "--reference-dir", REFERENCE_DIR, "--output-dir", EVALUATE_OUTPUT_DIR,
                       "--approved-dir", EVALUATE_APPROVED_DIR,
                       "--max-regression", max_regression.to_string()],
        ),
        property_files=[evaluation_report, evaluation_lineage, generalisation_report, approved_comparison],
    )

    def evaluation_value(json_path: str, property_file=evaluation_report) -> JsonGet:
        return JsonGet(step_name=evaluate.name, property_file=property_file, json_path=json_path)

    measured_accuracy = evaluation_value(ACCURACY_JSON_PATH)
    evaluation_json_uri = Join(on="/", values=[
        evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"])

    # ---- Register: the model package (TF Serving image, model.tar.gz unchanged) with its metrics and lineage,
    # all resolved by SageMaker (or the local runner) at run time. The keys are the registry's
    # (pipelines/registry/request.py); values must be strings, hence a Join around each number.
    model = ModelBuilder(
        image_uri=serving_image,
        s3_model_data_url=best_model_uri,
        role_arn=role,
        sagemaker_session=session,
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            model_package_group_name=model_package_group_name,
            content_types=["application/json", "text/csv"],
            response_types=["application/json"],
            inference_instances=["ml.m5.large", "ml.c5.large"],
            transform_instances=["ml.m5.large"],
            approval_status=approval_status,
            model_metrics=ModelMetrics(model_statistics=MetricsSource(
                content_type="application/json", s3_uri=evaluation_json_uri)),
            customer_metadata_properties={
                EXECUTION_ID: ExecutionVariables.PIPELINE_EXECUTION_ID,
                DATA_HASH: data_hash,
                CHECKSUM: evaluation_value(MODEL_SHA256_JSON_PATH, evaluation_lineage),
                **{f"{METRIC_PREFIX}{name}": Join(on="", values=[evaluation_value(f"{METRICS_ROOT}.{name}.value")])
                   for name in REGISTERED_METRICS},
                **{f"{METRIC_PREFIX}{name}": Join(on="", values=[evaluation_value(path, generalisation_report)])
                   for name, path in GENERALISATION_METRICS.items()},
            },
            metadata_properties=MetadataProperties(generated_by=ExecutionVariables.PIPELINE_EXECUTION_ARN),
        ),
    )
    request = register.step_args.create_model_package_request
    # ModelBuilder adds script-mode variables even with no script; empty ones mean nothing to TF Serving.
    for container in request["InferenceSpecification"]["Containers"]:
        container["Environment"] = {k: v for k, v in container.get("Environment", {}).items() if v != ""}
    # register(description=...) takes a plain string only; this one names the execution and the data.
    request["ModelPackageDescription"] = Join(on=" ", values=[
        "HS6 classifier from pipeline execution", ExecutionVariables.PIPELINE_EXECUTION_ID,
        "on data snapshot", data_hash])

    # The gate: HS6 top-1 at least QualityThreshold, and not more than MaxRegressionVsApproved below the approved
    # model on the same rows (comparison.json's floor: 0 when none is approved). One message names every number.
    fail = FailStep(
        name="Fail",
        error_message=Join(on=" ", values=[
            "Quality gate failed: HS6 top-1 accuracy", measured_accuracy, "against the quality threshold",
            quality_threshold, "and against the approved model:",
            evaluation_value(COMPARISON_MESSAGE_JSON_PATH, approved_comparison),
            "- the model was not registered.",
        ]),
    )

    # Registering the approved archive again would only put a duplicate in front of the approver.
    check_new_model = ConditionStep(
        name="CheckNewModel",
        conditions=[ConditionEquals(
            left=evaluation_value(COMPARISON_SAME_MODEL_JSON_PATH, approved_comparison), right=0)],
        if_steps=[register],
        else_steps=[],
    )
    check_quality = ConditionStep(
        name="CheckQuality",
        conditions=[ConditionGreaterThanOrEqualTo(left=measured_accuracy, right=quality_threshold),
                    ConditionGreaterThanOrEqualTo(
                        left=measured_accuracy,
                        right=evaluation_value(COMPARISON_FLOOR_JSON_PATH, approved_comparison))],
        if_steps=[check_new_model],
        else_steps=[fail],
    )

    return Pipeline(
        name=pipeline_name,
        parameters=parameters,
        steps=[snapshot, preprocess, tune, evaluate, check_quality],
        sagemaker_session=session,
    )
