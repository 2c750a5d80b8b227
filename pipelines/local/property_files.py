"""A step's PropertyFiles, found where the definition says they are (its ProcessingOutput + FilePath).

The runner reads them for Std:JsonGet; a run summary may read them too, through the same definition,
so nothing has to guess a file name inside a job's outputs.
"""
from __future__ import annotations

import json
from typing import Any

from pipelines.local.errors import required
from pipelines.local.expressions import ResolutionError
from pipelines.local.store import ArtifactStore


def property_file_uri(step_name: str, step_spec: dict, step_properties: dict, file_name: str) -> str:
    """The s3:// URI of `file_name`, one of the PropertyFiles the step declares, in a run whose properties are given."""
    spec = next((f for f in step_spec.get("PropertyFiles", []) if f.get("PropertyFileName") == file_name), None)
    if spec is None:
        raise ResolutionError(f"step {step_name!r} declares no property file {file_name!r}")
    where = f"step {step_name!r} PropertyFiles[{file_name!r}]"
    output_name = required(spec, "OutputName", where)
    outputs = step_properties.get("ProcessingOutputConfig", {}).get("Outputs", [])
    output = next((o for o in outputs if o.get("OutputName") == output_name), None)
    if output is None:
        raise ResolutionError(f"{where} names the output {output_name!r}, which the step does not have")
    return str(output["S3Output"]["S3Uri"]).rstrip("/") + "/" + str(required(spec, "FilePath", where))


def read_json(store: ArtifactStore, uri: str) -> Any:
    path = store.path_for(uri)
    if not path.is_file():
        raise ResolutionError(f"{uri} does not exist (local store: {path})")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ResolutionError(f"{uri} is not valid JSON: {error}") from error
