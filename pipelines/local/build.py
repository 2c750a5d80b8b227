"""The definition the local runner executes: built exactly as for AWS (offline, inside moto).

Every object the SDK build uploaded (the content-hashed job code, and whatever the module's
stage_default_data hook put where its default parameters point) is copied into the local artifact
store, so every s3:// URI in the definition names a real file on this machine.
"""
from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.local.offline import build_offline
from pipelines.local.pipeline_module import PipelineModule
from pipelines.local.store import ArtifactStore


@dataclass
class LocalBuild:
    definition: dict
    pipeline_name: str


def build_local_definition(home: Path, module: PipelineModule, **build_arguments) -> LocalBuild:
    """Build the module's definition offline and mirror its uploads into <home>/store.

    `build_arguments`: naming (pipeline_name, model_package_group_name, base_job_prefix; None = the
    module's defaults) and get_pipeline() options, as pipelines.local.offline.build_offline takes them.
    """
    with _quiet_sdk():
        build = build_offline(module, **build_arguments)
    seed_store(ArtifactStore.under(home), build.objects)
    return LocalBuild(json.loads(build.definition), build.pipeline_name)


@contextmanager
def _quiet_sdk():
    """The SDK logs INFO/WARNING lines about fields it pops from the definition: not news to a local user."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def seed_store(store: ArtifactStore, objects: dict[str, bytes]) -> int:
    """Copy uploaded objects into the store. Existing objects are kept: code keys are content-hashed
    (same key, same bytes) and a dataset someone replaced in the store is theirs to keep."""
    written = 0
    for uri, body in objects.items():
        if not store.path_for(uri).is_file():
            store.put_bytes(uri, body)
            written += 1
    return written
