"""A Training job (CreateTrainingJob arguments) run as a local process, as SageMaker script mode would.

The container contract mapped onto the job folder: channels in opt/ml/input/data/<channel>
(SM_CHANNEL_<NAME>), the model in opt/ml/model (SM_MODEL_DIR), hyper-parameters as `--name value`
(and SM_HPS), the code from `sagemaker_submit_directory` in opt/ml/code running `sagemaker_program`.
Afterwards the model folder is tarred to <S3OutputPath>/<job>/output/model.tar.gz, as SageMaker does.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from pipelines.local.containers import ContainerPaths, command_for, job_environment
from pipelines.local.errors import DefinitionError, JobFailed, required, required_path
from pipelines.local.processes import error_summary, run_process
from pipelines.local.store import ArtifactStore

_SDK_HYPERPARAMETERS = ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_container_log_level",
                        "sagemaker_region", "sagemaker_job_name", "sagemaker_estimator_class_name",
                        "sagemaker_estimator_module")


def final_metrics(log_text: str, metric_definitions: list[dict]) -> dict[str, float]:
    """SageMaker's rule: each metric's value is the last match of its regex in the job's log."""
    values: dict[str, float] = {}
    for definition in metric_definitions:
        name = required(definition, "Name", "a MetricDefinitions entry")
        try:
            matches = re.findall(required(definition, "Regex", f"MetricDefinitions[{name!r}]"), log_text)
        except re.error as error:
            raise DefinitionError(f"MetricDefinitions[{name!r}].Regex is not a regular expression: {error}") from None
        if matches:
            last = matches[-1]
            last = last[0] if isinstance(last, tuple) else last
            try:
                values[name] = float(last)
            except ValueError:
                continue
    return values


def _stage_code(hyperparameters: dict, store: ArtifactStore, code_dir: Path) -> str | None:
    submit_directory = hyperparameters.get("sagemaker_submit_directory")
    if not submit_directory:
        return None
    code_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        (tarball,) = store.fetch(str(submit_directory), Path(scratch))
        with tarfile.open(tarball) as archive:
            archive.extractall(code_dir, filter="data")
    return str(hyperparameters.get("sagemaker_program") or "")


def _tar_directory(source: Path, target: Path) -> None:
    with tarfile.open(target, "w:gz") as archive:
        for path in sorted(source.rglob("*")):
            archive.add(path, arcname=path.relative_to(source).as_posix(), recursive=False)


def run_training_job(job_name: str, arguments: dict, store: ArtifactStore, job_dir: Path, log_path: Path,
                     on_line: Callable[[str, str], None] | None = None) -> dict:
    """Run one training job; returns DescribeTrainingJob-like properties (ModelArtifacts, FinalMetricDataList...)."""
    if job_dir.exists():
        shutil.rmtree(job_dir)
    paths = ContainerPaths(job_dir)
    output_path = str(required_path(arguments, "OutputDataConfig.S3OutputPath", "the training job")).rstrip("/")
    algorithm = arguments.get("AlgorithmSpecification", {})
    hyperparameters = {k: str(v) for k, v in (arguments.get("HyperParameters") or {}).items()}

    channels = []
    for channel in arguments.get("InputDataConfig", []):
        name = required(channel, "ChannelName", "an InputDataConfig channel")
        uri = required_path(channel, "DataSource.S3DataSource.S3Uri", f"InputDataConfig[{name!r}]")
        store.fetch(str(uri), paths.local(f"/opt/ml/input/data/{name}"))
        channels.append(name)
    model_dir, output_data_dir = paths.local("/opt/ml/model"), paths.local("/opt/ml/output/data")
    model_dir.mkdir(parents=True)
    output_data_dir.mkdir(parents=True)
    code_dir = paths.local("/opt/ml/code")
    program = _stage_code(hyperparameters, store, code_dir)

    script_hyperparameters = {k: paths.rewrite(v) for k, v in hyperparameters.items() if k not in _SDK_HYPERPARAMETERS}
    config_dir = paths.local("/opt/ml/input/config")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=1))
    (config_dir / "inputdataconfig.json").write_text(json.dumps({c: {"TrainingInputMode": "File"} for c in channels}))

    if program:
        command = command_for(["python3", program], paths)
    elif algorithm.get("ContainerEntrypoint"):
        command = command_for(list(algorithm["ContainerEntrypoint"]) + list(algorithm.get("ContainerArguments", [])),
                              paths)
    else:
        raise DefinitionError(f"{job_name}: neither a sagemaker_program hyper-parameter nor a ContainerEntrypoint "
                              "says what to run; the local runner cannot run the image's built-in algorithm")
    for name, value in script_hyperparameters.items():
        command += [f"--{name}", value]

    sm_env = {
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_data_dir),
        "SM_OUTPUT_DIR": str(paths.local("/opt/ml/output")),
        "SM_INPUT_DIR": str(paths.local("/opt/ml/input")),
        "SM_INPUT_CONFIG_DIR": str(config_dir),
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(script_hyperparameters),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_NUM_GPUS": "0",
        "SM_TRAINING_JOB_NAME": job_name,
        **{f"SM_CHANNEL_{c.upper()}": str(paths.local(f"/opt/ml/input/data/{c}")) for c in channels},
        **{f"SM_HP_{k.upper()}": v for k, v in script_hyperparameters.items()},
    }
    env = job_environment(arguments.get("Environment"), paths, sm_env)
    workdir = code_dir if code_dir.is_dir() else job_dir
    result = run_process(command, workdir, env, log_path, on_line)
    if not result.ok:
        failure = paths.local("/opt/ml/output/failure")
        reason = failure.read_text().strip() if failure.is_file() else ""
        raise JobFailed(reason or error_summary(result.stderr_tail, result.returncode))

    metrics = final_metrics(log_path.read_text(errors="replace"), algorithm.get("MetricDefinitions", []))
    model_uri = f"{output_path}/{job_name}/output/model.tar.gz"
    with tempfile.TemporaryDirectory() as scratch:
        tarball = Path(scratch) / "model.tar.gz"
        _tar_directory(model_dir, tarball)
        store.put_file(model_uri, tarball)
        if any(output_data_dir.iterdir()):
            _tar_directory(output_data_dir, Path(scratch) / "output.tar.gz")
            store.put_file(f"{output_path}/{job_name}/output/output.tar.gz", Path(scratch) / "output.tar.gz")
    return {
        **arguments,
        "TrainingJobName": job_name,
        "TrainingJobArn": f"arn:aws:sagemaker:local:000000000000:training-job/{job_name.lower()}",
        "TrainingJobStatus": "Completed",
        "ModelArtifacts": {"S3ModelArtifacts": model_uri},
        "FinalMetricDataList": [{"MetricName": name, "Value": value} for name, value in metrics.items()],
    }
