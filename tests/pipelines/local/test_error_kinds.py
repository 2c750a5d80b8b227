"""An error in the definition fails its step; a bug in the runner is reported as one, never as a failed step."""
from __future__ import annotations

import pytest

from pipelines.local import records as rec
from pipelines.local.errors import LocalRunnerBug
from pipelines.local.runner import RUNNER_LOG
from tests.pipelines.local import fake_pipeline

BUG = "internal error in the local runner (a bug, please report it)"


def _step(definition: dict, name: str) -> dict:
    for step in definition["Steps"]:
        if step["Name"] == name:
            return step
        for child in step.get("Arguments", {}).get("IfSteps", []) + step.get("Arguments", {}).get("ElseSteps", []):
            if child["Name"] == name:
                return child
    raise KeyError(name)


def test_a_step_whose_arguments_lack_a_field_fails_as_a_definition_error(make_runner):
    definition = fake_pipeline.definition()
    del _step(definition, "Evaluate")["Arguments"]["AppSpecification"]
    record = make_runner(definition).start({"QualityThreshold": "0"})

    assert record.status == rec.FAILED
    reason = record.steps["Evaluate"].failure_reason
    assert "lacks 'AppSpecification'" in reason and BUG not in reason
    assert record.steps["Tune"].status == rec.SUCCEEDED  # the steps before it ran as usual


def test_a_json_get_on_a_missing_path_fails_the_condition_step(make_runner):
    definition = fake_pipeline.definition()
    condition = _step(definition, "CheckQuality")["Arguments"]["Conditions"][0]
    condition["LeftValue"]["Std:JsonGet"]["Path"] = "multiclass_classification_metrics.f1_macro.value"
    record = make_runner(definition).start({"QualityThreshold": "0"})

    assert record.status == rec.FAILED
    assert "no 'f1_macro'" in record.steps["CheckQuality"].failure_reason
    assert BUG not in record.failure_reason


def test_a_bad_tuning_range_fails_the_tuning_step(make_runner):
    definition = fake_pipeline.definition()
    ranges = _step(definition, "Tune")["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    ranges["IntegerParameterRanges"][0]["MaxValue"] = "lots"
    record = make_runner(definition).start()

    assert record.status == rec.FAILED
    assert "ParameterRanges['units'].MaxValue is 'lots', not a whole number" in record.steps["Tune"].failure_reason


def test_an_unexpected_exception_is_recorded_as_a_runner_bug_with_its_traceback(make_runner, home, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("ProcessingJobName")  # the kind of slip that used to pass for a failed step

    monkeypatch.setattr("pipelines.local.runner.run_processing_job", broken)
    with pytest.raises(LocalRunnerBug, match=r"internal error in the local runner \(a bug, please report it\): "
                                             r"KeyError: 'ProcessingJobName'"):
        make_runner().start({"QualityThreshold": "0"})

    (record,) = rec.ExecutionStore(home).list()
    assert record.status == rec.FAILED and record.failure_reason.startswith(BUG)
    assert record.steps["Preprocess"].status == rec.FAILED and record.steps["Preprocess"].failure_reason.startswith(BUG)
    log = rec.ExecutionStore(home).folder(record.execution_id) / "logs" / RUNNER_LOG
    assert str(log) in record.failure_reason
    traceback = log.read_text()
    assert "Traceback (most recent call last)" in traceback and "in broken" in traceback
