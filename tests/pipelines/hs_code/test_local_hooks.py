"""What the HS-code pipeline offers the generic local runner: profiles, data staging, its summary lines."""
from __future__ import annotations

import io

import pytest

from pipelines.hs_code import PIPELINE_MODULE
from pipelines.local.pipeline_module import PipelineModule
from pipelines.local.progress import Console
from pipelines.local.runner import LocalRunner
from pipelines.local.store import ArtifactStore
from pipelines.local.summary import ExecutionView
from steps.hsml.hyperparameters import QUICK_PROFILE_STATIC
from tests.pipelines.local import fake_pipeline


@pytest.fixture
def module() -> PipelineModule:
    return PipelineModule.load(PIPELINE_MODULE)


def test_the_runner_finds_the_hooks_next_to_the_pipeline_module(module):
    assert set(module.profiles()) == {"quick", "full"} and module.profile(None).name == "quick"
    assert module.hook("stage_default_data") is not None and module.hook("summarize") is not None


def test_profiles_name_only_declared_parameters_and_accepted_build_options(module, definition):
    declared = {p["Name"] for p in definition["Parameters"]}
    for profile in module.profiles().values():
        assert set(profile.parameters) <= declared, profile.name
        assert module.split_build_options(profile.build_options)[1] == {}, profile.name
    # The quick profile's short trials come from the one hyper-parameter table, not a copy of it.
    assert module.profile("quick").build_options["static_hyperparameters"] == QUICK_PROFILE_STATIC


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    """Run the hand-written fake definition (same step shapes as the real one) with fake step scripts."""
    home = tmp_path / "home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    store = ArtifactStore.under(home)
    fake_pipeline.stage(store)
    fake_pipeline.stage_sourcedir(store)

    def run(**parameters):
        runner = LocalRunner(fake_pipeline.definition(), home, Console(stream=io.StringIO()))
        record = runner.start(parameters, pipeline_module=PIPELINE_MODULE)
        return ExecutionView(record, runner.store, runner.definition)
    return run


def test_summary_of_a_registered_run(module, fake_run):
    text = "\n".join(module.summarize(fake_run(QualityThreshold="0")))
    assert "best trial: " in text and "hyper-parameters: " in text
    assert "test metrics: accuracy=0." in text  # the EvaluationReport property file, found through the definition
    assert "registered: model version 1 (PendingManualApproval)" in text
    assert "hscode registry approve 1" in text and 'hscode predict --model latest-approved' in text


def test_summary_of_a_missed_quality_gate(module, fake_run):
    text = "\n".join(module.summarize(fake_run(QualityThreshold="1.01")))
    assert "test metrics: accuracy=" in text and "the quality gate failed" in text and "registered: model version" not in text


def test_describe_shows_the_pipelines_own_lines(fake_run, capsys):
    from pipelines.cli import main

    view = fake_run(QualityThreshold="0")
    assert main(["pipeline", "describe", view.record.execution_id]) == 0
    out = capsys.readouterr().out
    assert "best trial" in out and "trial 3:" in out and "test metrics:" in out
