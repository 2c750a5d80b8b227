"""The definition the local runner executes: built exactly as for AWS (offline, inside moto).

Every object the SDK build uploaded (the content-hashed steps/ code, and the bundled dataset staged
at the default InputDataUri / ReferenceDataUri) is copied into the local artifact store, so every
s3:// URI in the definition names a real file on this machine.
"""
from __future__ import annotations

import inspect
import json
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path

from pipelines.local.store import ArtifactStore


def supported_build_options(options: dict) -> tuple[dict, dict]:
    """Split options into those get_pipeline() accepts and those it does not (reported, not passed)."""
    from pipelines.hs_code.pipeline import get_pipeline

    accepted = inspect.signature(get_pipeline).parameters
    return ({k: v for k, v in options.items() if k in accepted},
            {k: v for k, v in options.items() if k not in accepted})


def build_local_definition(home: Path, build_options: dict | None = None) -> dict:
    """Build the definition offline and mirror its uploads into <home>/store; returns the definition."""
    from pipelines.hs_code.offline import build_offline

    with _quiet_sdk():
        build = build_offline(**(build_options or {}))
    seed_store(ArtifactStore(Path(home) / "store"), build.objects)
    return json.loads(build.definition)


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
