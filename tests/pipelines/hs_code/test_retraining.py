"""Retraining sees new data: the real definition (built offline, as `hscode pipeline run --local` does) run
three times on the local runner over one input prefix.

1. a few hundred rows: everything runs, version 1 is registered (the session's shared first execution,
   tests/pipelines/conftest.py: `first_run`; runs 2 and 3 go on in a copy of its home);
2. version 1 approved, then the same data: SnapshotData and Evaluate (it reads the approved model) run,
   Preprocess and Tune are cache hits, and the best model is version 1's very archive: nothing is registered
   (CheckNewModel) and the execution succeeds;
3. one new file under the same prefix: a new snapshot hash, Preprocess runs again, and the new version 2
   carries the new data hash.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines import settings
from pipelines.hs_code import PIPELINE_MODULE
from pipelines.local import records as rec
from pipelines.local.pipeline_module import PipelineModule
from pipelines.local.store import ArtifactStore
from pipelines.local.summary import ExecutionView
from pipelines.registry import LocalRegistry
from steps.hsml.hashing import sha256_file
from tests.pipelines.conftest import SLICE_PARAMETERS, SLICE_URI

DATA_URI = SLICE_URI  # where the shared first execution read its rows
CACHED_STEPS = ("Preprocess", "Tune")


def _real_rows(codes: int = 6, first: int = 25, later: int = 10) -> tuple[bytes, bytes]:
    """Real rows of the most frequent codes: `first` per code for the first batch, `later` more for the next."""
    data = pd.read_csv(settings.BUNDLED_DATASET, dtype=str, keep_default_na=False)
    data = data[data["split"] != "train_nomenclature"]
    top = data["hs_code"].value_counts().index[:codes]
    rows = data[data["hs_code"].isin(top)].groupby("hs_code", group_keys=False)
    batch = rows.head(first)
    new = rows.nth(list(range(first, first + later)))
    return batch.to_csv(index=False).encode(), new.to_csv(index=False).encode()


def _snapshot_hash(record: rec.ExecutionRecord, store: ArtifactStore) -> str:
    outputs = record.steps["SnapshotData"].properties["ProcessingOutputConfig"]["Outputs"]
    manifest = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == "manifest")
    return json.loads(store.path_for(manifest.rstrip("/") + "/snapshot.json").read_text())["hash"]


@pytest.mark.slow
def test_new_data_retrains_and_unchanged_data_hits_the_cache(first_run, tmp_path, monkeypatch):
    home = tmp_path / "home"
    runner, out = first_run.continue_in(home, monkeypatch)
    store = ArtifactStore.under(home)
    batch, new_rows = _real_rows()
    # The first execution's input is the first batch: the same rows, under DATA_URI.
    assert store.path_for(DATA_URI + "slice.csv").read_bytes() == batch
    parameters = dict(SLICE_PARAMETERS)
    registry = LocalRegistry(home=home)

    def run() -> rec.ExecutionRecord:
        record = runner.start(parameters)
        assert record.status == rec.SUCCEEDED, f"{record.failure_reason}\n{out.getvalue()[-3000:]}"
        return record

    first = first_run.record
    assert first.status == rec.SUCCEEDED, f"{first.failure_reason}\n{first_run.output[-3000:]}"
    assert all(first.steps[name].cache_hit_from is None for name in CACHED_STEPS)
    [v1] = registry.list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)
    # Everything the version carries came from the definition's request: lineage and metrics.
    assert v1.execution_id == first.execution_id
    assert v1.data_hash == _snapshot_hash(first, store)
    assert v1.checksum == sha256_file(registry.artifact_path(v1))
    assert 0.0 <= v1.metrics["accuracy"] <= 1.0 and "hs6_top5_accuracy" in v1.metrics

    registry.approve(v1.version, by="test", reason="in service")
    second = run()  # the same data: only the snapshot and Evaluate run again, and nothing new is registered
    assert second.steps["CheckNewModel"].properties["Outcome"] is False
    assert second.steps["Register"].status == rec.SKIPPED
    assert [v.version for v in registry.list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)] == [1]
    summary = "\n".join(PipelineModule.load(PIPELINE_MODULE).hook("summarize")(
        ExecutionView(second, runner.store, runner.definition)))
    assert "nothing was registered: the best model is the approved version itself" in summary
    assert second.steps["SnapshotData"].status == rec.SUCCEEDED
    assert second.steps["SnapshotData"].cache_hit_from is None
    assert {name: second.steps[name].cache_hit_from for name in CACHED_STEPS} == dict.fromkeys(
        CACHED_STEPS, first.execution_id)
    assert _snapshot_hash(second, store) == v1.data_hash

    store.put_bytes(DATA_URI + "2025-07/batch-2.csv", new_rows)  # one new file under the same prefix
    parameters["MaxRegressionVsApproved"] = "1"  # one-epoch models: this test is about data, not the margin
    third = run()
    assert {name: third.steps[name].cache_hit_from for name in CACHED_STEPS} == dict.fromkeys(CACHED_STEPS)
    newest = registry.list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)[-1]
    assert newest.execution_id == third.execution_id and newest.version == 2
    assert newest.data_hash == _snapshot_hash(third, store) != v1.data_hash
