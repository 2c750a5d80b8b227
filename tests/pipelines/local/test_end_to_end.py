"""The real pipeline definition (built offline exactly as for AWS) run locally on a tiny slice of the data.

Real step scripts, real TensorFlow training, real registry: only the data and the budget are small.
"""
from __future__ import annotations

import io

import pandas as pd
import pytest

from pipelines import settings
from pipelines.hs_code import PIPELINE_MODULE
from pipelines.local import records as rec
from pipelines.local.build import build_local_definition
from pipelines.local.pipeline_module import PipelineModule
from pipelines.local.progress import Console
from pipelines.local.runner import LocalRunner
from pipelines.local.store import ArtifactStore
from pipelines.registry import LocalRegistry

SLICE_URI = "s3://hscode-artifacts/tests/tiny-slice/"


def _tiny_slice(codes: int = 6, per_code: int = 25) -> bytes:
    """The most frequent codes' real rows (no nomenclature rows), a few hundred lines."""
    data = pd.read_csv(settings.BUNDLED_DATASET, dtype=str, keep_default_na=False)
    data = data[data["split"] != "train_nomenclature"]
    top = data["hs_code"].value_counts().index[:codes]
    rows = data[data["hs_code"].isin(top)].groupby("hs_code", group_keys=False).head(per_code)
    return rows.to_csv(index=False).encode()


@pytest.mark.slow
def test_real_definition_runs_end_to_end_on_a_tiny_slice(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    build = build_local_definition(home, PipelineModule.load(PIPELINE_MODULE),
                                   static_hyperparameters={"epochs": "1", "patience": "1"})
    ArtifactStore.under(home).put_bytes(SLICE_URI + "slice.csv", _tiny_slice())
    out = io.StringIO()
    runner = LocalRunner(build.definition, home, Console(stream=out), pipeline_name=build.pipeline_name)

    record = runner.start({"InputDataUri": SLICE_URI, "MaxTuningJobs": "2", "MaxParallelTuningJobs": "2",
                           "QualityThreshold": "0"})

    assert record.status == rec.SUCCEEDED, f"{record.failure_reason}\n{out.getvalue()[-3000:]}"
    names = [s.name for s in record.steps.values()]
    register = next(name for name in names if name.startswith("Register"))
    assert record.steps[register].status == rec.SUCCEEDED and record.steps["Fail"].status == rec.SKIPPED
    tune = record.steps["Tune"].outputs
    assert len(tune["trials"]) == 2 and tune["completed"] >= 1
    assert "trial 2/2 started" in out.getvalue() and "val_accuracy=" in out.getvalue()

    (version,) = LocalRegistry(home=home).list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)
    assert version.execution_id == record.execution_id and version.status == "PendingManualApproval"
    assert 0.0 <= version.metrics["accuracy"] <= 1.0 and version.data_hash and version.checksum
    assert version.model_data_url.endswith(f"{tune['best_training_job']}/output/model.tar.gz")

    # Same budget again: every job step is a cache hit, and the gate at 1.01 now fails with the measured value.
    again = runner.start({"InputDataUri": SLICE_URI, "MaxTuningJobs": "2", "MaxParallelTuningJobs": "2",
                          "QualityThreshold": "1.01"})
    assert again.status == rec.FAILED
    assert again.steps["Tune"].cache_hit_from == record.execution_id
    assert f"{version.metrics['accuracy']}"[:4] in again.steps["Fail"].failure_reason
    assert "against the quality threshold 1.01" in again.steps["Fail"].failure_reason
    assert len(LocalRegistry(home=home).list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)) == 1
