"""The quality gate against the approved model, on the local runner with the real definition: an approved model
exists (approved through the registry, which writes the pointer Evaluate reads), a clearly worse candidate is
trained, and the execution fails with both numbers in its message and registers nothing.

The candidate is the one-epoch model the session's shared first execution trained and registered as version 1
(tests/pipelines/conftest.py: `first_run`): in a copy of its home, a strong model is approved as version 2 and the
same data is run again, so Preprocess and Tune are cache hits and Evaluate compares that candidate with version 2.
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
from tests.pipelines.conftest import SLICE_PARAMETERS, tiny_slice

GROUP = settings.DEFAULT_MODEL_PACKAGE_GROUP


def _approve_a_strong_model(home, rows: pd.DataFrame) -> LocalRegistry:
    """A model trained on every row (test rows included, for a large margin), registered and approved."""
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.export import pack_model_dir
    from steps.hsml.text import normalize_description
    from steps.hsml.training import train_model

    frame = rows.assign(text=rows["description"].map(normalize_description)).reset_index(drop=True)
    train_model(frame, frame, TextEncoder.fit(frame["text"]),
                {"model_type": "dnn", "wide": 0, "embedding_dim": 32, "units": 64, "epochs": 12, "patience": 12,
                 "batch_size": 16, "learning_rate": 0.01, "max_length": 16, "seed": 3},
                home / "approved-model", log=lambda line: None)
    uri = "s3://hscode-artifacts/tests/gate/approved/model.tar.gz"
    pack_model_dir(home / "approved-model", ArtifactStore.under(home).path_for(uri))
    registry = LocalRegistry(home=home)
    registry.approve(registry.register(GROUP, uri).arn, by="test", reason="the model in service")
    return registry


@pytest.mark.slow
def test_a_clearly_worse_candidate_fails_the_gate_with_both_numbers_and_registers_nothing(first_run, tmp_path,
                                                                                          monkeypatch):
    home = tmp_path / "home"
    runner, out = first_run.continue_in(home, monkeypatch)
    store = ArtifactStore.under(home)
    registry = _approve_a_strong_model(home, tiny_slice())  # the rows the first execution read
    assert [(v.version, v.status) for v in registry.list_versions(GROUP)] == [
        (1, "PendingManualApproval"), (2, "Approved")]
    # QualityThreshold 0: only the comparison with the approved model can stop this one-epoch candidate.
    record = runner.start({**SLICE_PARAMETERS, "QualityThreshold": "0"})

    assert record.status == rec.FAILED, out.getvalue()[-3000:]
    assert record.steps["Tune"].cache_hit_from == first_run.record.execution_id  # the candidate of version 1
    assert record.steps["Register"].status == rec.SKIPPED
    comparison_uri = next(o["S3Output"]["S3Uri"] for o in
                          record.steps["Evaluate"].properties["ProcessingOutputConfig"]["Outputs"])
    comparison = json.loads(store.path_for(comparison_uri.rstrip("/") + "/comparison.json").read_text())
    assert comparison["passed"] is False and comparison["approved_model"]["version"] == 2
    assert comparison["approved_accuracy"] - comparison["candidate_accuracy"] > 0.03
    message = record.steps["Fail"].failure_reason
    candidate, approved = comparison["candidate_accuracy"], comparison["approved_accuracy"]
    assert (f"HS6 top-1 {candidate:.3f} is more than 0.03 below the approved model's {approved:.3f} (version 2) "
            f"on the same {comparison['test_rows']} test rows") in message
    assert [v.version for v in registry.list_versions(GROUP)] == [1, 2]  # nothing new registered
    summary = "\n".join(PipelineModule.load(PIPELINE_MODULE).hook("summarize")(
        ExecutionView(record, runner.store, runner.definition)))
    assert f"vs approved model: HS6 top-1 {candidate:.3f} is more than 0.03 below" in summary
    assert "long-text probes of the test rows: HS6 " in summary and "nothing was registered" in summary
    generalisation = json.loads(store.path_for(comparison_uri.rstrip("/") + "/generalisation.json").read_text())
    assert 0 <= generalisation["hs6_top1_accuracy"] <= 1 and generalisation["probe_rows"] == 2 * comparison["test_rows"]
