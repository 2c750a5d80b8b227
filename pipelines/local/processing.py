"""A Processing job (CreateProcessingJob arguments) run as a local process in a per-job folder."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from pipelines.local.containers import ContainerPaths, JobFailed, command_for, job_environment
from pipelines.local.processes import error_summary, run_process
from pipelines.local.store import ArtifactStore


def run_processing_job(job_name: str, arguments: dict, store: ArtifactStore, job_dir: Path, log_path: Path,
                       on_line: Callable[[str, str], None] | None = None) -> dict:
    """Stage inputs, run the container command, publish outputs; returns DescribeProcessingJob-like properties."""
    if job_dir.exists():
        shutil.rmtree(job_dir)  # a retry starts from a clean container
    paths = ContainerPaths(job_dir)
    for processing_input in arguments.get("ProcessingInputs", []):
        s3_input = processing_input.get("S3Input")
        if not s3_input:
            raise JobFailed(f"input {processing_input.get('InputName')!r}: only S3 inputs can run locally")
        store.fetch(str(s3_input["S3Uri"]), paths.local(s3_input["LocalPath"]))
    outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
    for output in outputs:
        paths.local(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    app = arguments["AppSpecification"]
    entrypoint = list(app.get("ContainerEntrypoint", [])) + [str(a) for a in app.get("ContainerArguments", [])]
    if not entrypoint:
        raise JobFailed(f"{job_name}: AppSpecification has no ContainerEntrypoint; the local runner cannot guess "
                        "what the image would run")
    env = job_environment(arguments.get("Environment"), paths, {"SM_CURRENT_HOST": "algo-1"})
    result = run_process(command_for(entrypoint, paths), job_dir, env, log_path, on_line)
    if not result.ok:
        raise JobFailed(error_summary(result.stderr_tail, result.returncode))

    for output in outputs:
        store.put_tree(str(output["S3Output"]["S3Uri"]), paths.local(output["S3Output"]["LocalPath"]))
    return {
        **arguments,
        "ProcessingJobName": job_name,
        "ProcessingJobArn": f"arn:aws:sagemaker:local:000000000000:processing-job/{job_name.lower()}",
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "",
    }
