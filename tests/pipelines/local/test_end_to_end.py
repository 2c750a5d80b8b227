"""The real pipeline definition (built offline exactly as for AWS) run locally on a tiny slice of the data.

Real step scripts, real TensorFlow training, real registry: only the data and the budget are small. The first
execution is the session's shared one (tests/pipelines/conftest.py: `first_run`); this test checks it, then runs
again in a copy of its home.
"""
from __future__ import annotations

import pytest

from pipelines import settings
from pipelines.local import records as rec
from pipelines.registry import LocalRegistry
from tests.pipelines.conftest import SLICE_PARAMETERS


@pytest.mark.slow
def test_real_definition_runs_end_to_end_on_a_tiny_slice(first_run, tmp_path, monkeypatch):
    record, output = first_run.record, first_run.output
    assert SLICE_PARAMETERS["MaxTuningJobs"] == SLICE_PARAMETERS["MaxParallelTuningJobs"] == "2"
    assert SLICE_PARAMETERS["QualityThreshold"] == "0"

    assert record.status == rec.SUCCEEDED, f"{record.failure_reason}\n{output[-3000:]}"
    names = [s.name for s in record.steps.values()]
    register = next(name for name in names if name.startswith("Register"))
    assert record.steps[register].status == rec.SUCCEEDED and record.steps["Fail"].status == rec.SKIPPED
    tune = record.steps["Tune"].outputs
    assert len(tune["trials"]) == 2 and tune["completed"] >= 1
    assert "trial 2/2 started" in output and "val_accuracy=" in output

    home = tmp_path / "home"
    runner, _ = first_run.continue_in(home, monkeypatch)
    (version,) = LocalRegistry(home=home).list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)
    assert version.execution_id == record.execution_id and version.status == "PendingManualApproval"
    assert 0.0 <= version.metrics["accuracy"] <= 1.0 and version.data_hash and version.checksum
    assert version.model_data_url.endswith(f"{tune['best_training_job']}/output/model.tar.gz")

    # Same budget again: every job step is a cache hit, and the gate at 1.01 now fails with the measured value.
    again = runner.start({**SLICE_PARAMETERS, "QualityThreshold": "1.01"})
    assert again.status == rec.FAILED
    assert again.steps["Tune"].cache_hit_from == record.execution_id
    assert f"{version.metrics['accuracy']}"[:4] in again.steps["Fail"].failure_reason
    assert "against the quality threshold 1.01" in again.steps["Fail"].failure_reason
    assert len(LocalRegistry(home=home).list_versions(settings.DEFAULT_MODEL_PACKAGE_GROUP)) == 1
