"""The runner on a small hand-written definition with fake step scripts (seconds, no TensorFlow)."""
from __future__ import annotations

import json
import tarfile

import pytest

from pipelines.local import records as rec
from pipelines.local.summary import ExecutionView, render
from pipelines.parameters import ParameterError
from pipelines.registry import LocalRegistry
from tests.pipelines.local import fake_pipeline


def test_threshold_met_registers_the_best_trial(make_runner, home, fake_store):
    runner = make_runner()
    record = runner.start({"QualityThreshold": "0"})

    assert record.status == rec.SUCCEEDED, record.failure_reason
    statuses = {name: step.status for name, step in record.steps.items()}
    assert statuses == {"Preprocess": "Succeeded", "Tune": "Succeeded", "Evaluate": "Succeeded",
                        "CheckQuality": "Succeeded", "Register-RegisterModel": "Succeeded", "Fail": "Skipped"}
    tune = record.steps["Tune"]
    trials = tune.outputs["trials"]
    assert len(trials) == 3 and all(t["status"] == "Completed" for t in trials)
    best = max(trials, key=lambda t: t["objective"])
    assert tune.outputs["objective"]["Value"] == best["objective"]
    # The fake trainer's score: 0.5 + 0.1 for cnn + units/1000; the last epoch line holds it.
    hps = best["hyperparameters"]
    assert best["objective"] == pytest.approx(0.5 + 0.1 * (hps["model_type"] == "cnn") + int(hps["units"]) / 1000, abs=1e-4)
    # TrainingJobSummaries[0] is the best trial: Evaluate read exactly that model.
    assert tune.properties["TrainingJobSummaries"][0]["TrainingJobName"] == tune.outputs["best_training_job"]

    versions = LocalRegistry(home=home).list_versions("fake-group")
    assert len(versions) == 1
    version = versions[0]
    assert version.status == "PendingManualApproval"
    assert version.execution_id == record.execution_id
    # Lineage and metrics come from the resolved request (CustomerMetadataProperties), as on SageMaker.
    assert version.data_hash == "abc123"
    assert version.metrics["accuracy"] == pytest.approx(round(best["objective"], 4))
    artifact = fake_store.path_for(version.model_data_url)
    assert version.model_data_url.endswith(f"{tune.outputs['best_training_job']}/output/model.tar.gz")
    with tarfile.open(artifact) as archive:
        assert json.load(archive.extractfile("metadata.json"))["hps"]["units"] == hps["units"]

    text = render(ExecutionView(record, runner.store, runner.definition))
    assert f"Execution {record.execution_id}: Succeeded" in text
    assert "Register-RegisterModel  Succeeded" in text and "model package version 1" in text
    assert "retry" not in text


def test_threshold_missed_fails_with_the_measured_value_and_registers_nothing(make_runner, home):
    record = make_runner().start({"QualityThreshold": "1.01"})

    assert record.status == rec.FAILED
    assert record.steps["Register-RegisterModel"].status == rec.SKIPPED
    assert record.steps["Fail"].status == rec.FAILED
    measured = json.loads(make_runner().store.path_for(
        record.steps["Evaluate"].properties["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        + "/evaluation.json").read_text())["multiclass_classification_metrics"]["accuracy"]["value"]
    assert record.steps["Fail"].failure_reason == f"accuracy {measured} is below the threshold 1.01"
    assert LocalRegistry(home=home).list_versions("fake-group") == []


def test_approval_status_comes_from_the_parameter(make_runner, home):
    make_runner().start({"QualityThreshold": "0", "ModelApprovalStatus": "Approved"})
    assert LocalRegistry(home=home).latest_approved("fake-group").version == 1


def test_crashing_step_fails_with_its_own_error_then_retry_reuses_earlier_steps(make_runner, home, fake_store):
    good_evaluate = fake_store.path_for(f"{fake_pipeline.CODE_URI}steps/evaluate.py").read_bytes()
    fake_store.put_bytes(f"{fake_pipeline.CODE_URI}steps/evaluate.py",
                         b"raise RuntimeError('model.tar.gz has no SavedModel in 1/')\n")
    runner = make_runner()
    record = runner.start({"QualityThreshold": "0"})

    assert record.status == rec.FAILED
    assert record.steps["Evaluate"].status == rec.FAILED
    assert "RuntimeError: model.tar.gz has no SavedModel in 1/" in record.steps["Evaluate"].failure_reason
    assert record.steps["CheckQuality"].status == rec.NOT_STARTED
    assert LocalRegistry(home=home).list_versions("fake-group") == []
    assert f"hscode pipeline retry {record.execution_id}" in render(ExecutionView(record, runner.store,
                                                                                  runner.definition))
    tune_ended = record.steps["Tune"].ended

    fake_store.put_bytes(f"{fake_pipeline.CODE_URI}steps/evaluate.py", good_evaluate)  # the fix
    retried = make_runner().retry(record.execution_id)

    assert retried.execution_id == record.execution_id and retried.retries == 1
    assert retried.status == rec.SUCCEEDED, retried.failure_reason
    assert retried.steps["Tune"].ended == tune_ended and retried.steps["Tune"].attempts == 1  # reused, not rerun
    assert retried.steps["Evaluate"].attempts == 2
    assert [v.execution_id for v in LocalRegistry(home=home).list_versions("fake-group")] == [record.execution_id]


def test_bad_data_fails_preprocess_with_the_scripts_message(make_runner, fake_store):
    fake_store.put_bytes(f"{fake_pipeline.DATA_URI}input.csv", b"description,hs_code\nwidget,bad,x\n")
    record = make_runner().start()
    assert record.status == rec.FAILED
    assert "hs_code 'bad' is not a 6-digit HS code" in record.steps["Preprocess"].failure_reason
    assert record.steps["Tune"].status == rec.NOT_STARTED


def test_missing_input_fails_then_retry_after_uploading_it(make_runner, home, fake_store):
    missing = f"s3://{fake_pipeline.BUCKET}/elsewhere/data/"
    record = make_runner().start({"InputDataUri": missing, "QualityThreshold": "0"})
    assert record.status == rec.FAILED
    assert f"no object or prefix at {missing}" in record.steps["Preprocess"].failure_reason

    fake_store.put_bytes(missing + "rows.csv", b"description,hs_code\nwool socks,611595\n")
    retried = make_runner().retry(record.execution_id)
    assert retried.status == rec.SUCCEEDED, retried.failure_reason
    assert retried.parameters["InputDataUri"] == missing


def test_malformed_and_unknown_overrides_are_refused_before_anything_runs(make_runner, home):
    with pytest.raises(ParameterError, match="MaxTuningJobs is an Integer: 'four'"):
        make_runner().start({"MaxTuningJobs": "four"})
    with pytest.raises(ParameterError, match="unknown parameter"):
        make_runner().start({"Threshold": "0.5"})
    assert rec.ExecutionStore(home).list() == []


def test_second_run_hits_the_step_cache(make_runner):
    first = make_runner().start({"QualityThreshold": "0"})
    second = make_runner().start({"QualityThreshold": "0"})
    assert second.status == rec.SUCCEEDED
    assert second.steps["Preprocess"].cache_hit_from == first.execution_id
    assert second.steps["Tune"].cache_hit_from == first.execution_id
    assert second.steps["Evaluate"].cache_hit_from == first.execution_id
    # A different tuning budget is a different Tune step: it runs again (Preprocess still cached).
    third = make_runner().start({"QualityThreshold": "0", "MaxTuningJobs": "1"})
    assert third.steps["Preprocess"].cache_hit_from == first.execution_id
    assert third.steps["Tune"].cache_hit_from is None
    assert len(third.steps["Tune"].outputs["trials"]) == 1


def test_no_cache_runs_every_step(make_runner):
    make_runner().start({"QualityThreshold": "0"})
    record = make_runner(use_cache=False).start({"QualityThreshold": "0"})
    assert all(step.cache_hit_from is None for step in record.steps.values())


def test_executions_are_listed_and_described(make_runner, home, capsys):
    from pipelines.cli import main

    record = make_runner().start({"QualityThreshold": "0"})
    assert main(["pipeline", "executions"]) == 0
    assert record.execution_id in capsys.readouterr().out
    assert main(["pipeline", "describe", record.execution_id]) == 0
    out = capsys.readouterr().out
    assert "Tune" in out and "trial" in out and "logs:" in out and "parameters: InputDataUri=" in out
    assert main(["pipeline", "describe", "nope"]) == 2
    assert "hscode pipeline describe: error: no execution 'nope'" in capsys.readouterr().err


def test_cli_refuses_malformed_overrides_and_unknown_executions(home, capsys):
    from pipelines.cli import main

    assert main(["pipeline", "run", "--local", "--param", "QualityThreshold"]) == 2
    assert "hscode pipeline run: error: --param 'QualityThreshold': write it as Name=Value" in capsys.readouterr().err
    assert main(["pipeline", "run", "--local", "--param", "MaxTuningJobs=2", "--param", "MaxTuningJobs=3"]) == 2
    assert "MaxTuningJobs is given twice" in capsys.readouterr().err
    assert main(["pipeline", "run", "--local", "--profile", "huge"]) == 2
    assert "unknown profile 'huge'; choose one of quick, full" in capsys.readouterr().err
    assert main(["pipeline", "retry", "nope"]) == 2
    assert "no execution 'nope'" in capsys.readouterr().err
