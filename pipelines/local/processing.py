"""A Processing job (CreateProcessingJob arguments) run as a local process in a per-job folder."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from pipelines.local.containers import ContainerPaths, command_for, job_environment
from pipelines.local.errors import DefinitionError, JobFailed, required
from pipelines.local.processes import error_summary, run_process
from pipelines.local.store import ArtifactStore


def run_processing_job(job_name: str, arguments: dict, store: ArtifactStore, job_dir: Path, log_path: Path,
                       on_line: Callable[[str, str], None] | None = None) -> dict:
    """Stage inputs, run the container command, publish outputs; returns DescribeProcessingJob-like properties."""
    if job_dir.exists():
        shutil.rmtree(job_dir)  # a retry starts from a clean container
    paths = ContainerPaths(job_dir)
    for processing_input in arguments.get("ProcessingInputs", []):
        where = f"ProcessingInputs[{processing_input.get('InputName')!r}]"
        s3_input = processing_input.get("S3Input")
        if not s3_input:
            raise DefinitionError(f"{where}: only S3 inputs can run locally")
        store.fetch(str(required(s3_input, "S3Uri", f"{where}.S3Input")),
                    paths.local(required(s3_input, "LocalPath", f"{where}.S3Input")))
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    output_places = [_output_place(output) for output in outputs]
    for _, local_path in output_places:
        paths.local(local_path).mkdir(parents=True, exist_ok=True)

    app = required(arguments, "AppSpecification", "the processing job's arguments")
    entrypoint = list(app.get("ContainerEntrypoint", [])) + [str(a) for a in app.get("ContainerArguments", [])]
    if not entrypoint:
        raise DefinitionError(f"{job_name}: AppSpecification has no ContainerEntrypoint; the local runner cannot "
                              "guess what the image would run")
    env = job_environment(arguments.get("Environment"), paths, {"SM_CURRENT_HOST": "algo-1"})
    result = run_process(command_for(entrypoint, paths), job_dir, env, log_path, on_line)
    if not result.ok:
        raise JobFailed(error_summary(result.stderr_tail, result.returncode))

    for uri, local_path in output_places:
        store.put_tree(uri, paths.local(local_path))
    return {
        **arguments,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": f"arn:aws:sagemaker:local:000000000000:processing-job/{job_name.lower()}",
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "",
    }


def _output_place(output: dict) -> tuple[str, str]:
    """(S3Uri, LocalPath) of one ProcessingOutput."""
    where = f"ProcessingOutputConfig.Outputs[{output.get('OutputName')!r}]"
    s3_output = required(output, "S3Output", where)
    return str(required(s3_output, "S3Uri", f"{where}.S3Output")), required(s3_output, "LocalPath", f"{where}.S3Output")
