"""hscode monitor run: no drift stops after the check; drift exports the feedback under InputDataUri and
retrains locally with a tiny pipeline configuration, ending with a PendingManualApproval version."""
from __future__ import annotations


import pytest

from pipelines import settings
from pipelines.local.store import ArtifactStore
from pipelines.monitoring.loop import run_loop
from pipelines.registry import LocalRegistry
from tests.pipelines.hs_code.test_retraining import _real_rows
from tests.pipelines.monitoring.synthetic import write_labels
from tests.pipelines.monitoring.test_drift import fake_model_dir, write_traffic

DATA_URI = "s3://hscode-artifacts/tests/loop/training-data/"
SHIFTED = dict(words=("quantum", "flux", "capacitor", "zeolite"), codes=("850440",))


@pytest.fixture
def model(tmp_path):
    pytest.importorskip("steps.hsml.drift_baseline")
    return fake_model_dir(tmp_path / "model")


def test_no_drift_stops_after_the_check(home, tmp_path, model):
    write_traffic(tmp_path / "capture", 300)
    lines = []
    result = run_loop(model=str(model), capture=tmp_path / "capture", ground_truth=tmp_path / "gt", say=lines.append)
    assert not result.retrained and result.execution_id is None
    assert "no drift: nothing to retrain" in lines[-1]
    assert not (home / "executions").exists()


@pytest.mark.slow
def test_drift_exports_feedback_and_retrains_to_a_pending_version(home, tmp_path, model):
    write_traffic(tmp_path / "capture", 300, **SHIFTED)
    write_labels(tmp_path / "gt", {f"r3-{i}": "850440" for i in range(40)})
    batch, _ = _real_rows()
    store = ArtifactStore.under(home)
    store.put_bytes(DATA_URI + "batch-1.csv", batch)
    lines = []
    result = run_loop(model=str(model), capture=tmp_path / "capture", ground_truth=tmp_path / "gt",
                      parameters={"InputDataUri": DATA_URI, "MaxTuningJobs": "1", "MaxParallelTuningJobs": "1",
                                  "QualityThreshold": "0"},
                      build_options={"static_hyperparameters": {"epochs": "1", "patience": "1"}},
                      quiet=True, say=lines.append)
    assert result.drift.result["drift"] and result.retrained
    assert result.feedback_counts["joined"] == 40
    assert result.feedback_uri.startswith(DATA_URI + "feedback/")
    assert store.path_for(result.feedback_uri).read_text().count("850440") == 40
    [version] = LocalRegistry(home=home).list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)
    assert version.execution_id == result.execution_id and version.status == "PendingManualApproval"
    assert (result.version, result.status) == (version.version, "PendingManualApproval")
    assert "PendingManualApproval" in lines[-1]
