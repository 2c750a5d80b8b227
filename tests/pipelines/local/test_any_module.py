"""The runner takes any pipeline module: a tiny one runs through the same `hscode pipeline run --local`."""
from __future__ import annotations

import json

import pytest

from pipelines.cli import main
from pipelines.local import records as rec
from pipelines.local.pipeline_module import PipelineModule
from pipelines.local.store import ArtifactStore
from steps.hsml.cli_errors import UsageError

TINY = "tests.pipelines.local.tiny_pipeline"
ROWS_URI = "s3://hscode-artifacts/elsewhere/rows/"


def test_a_second_pipeline_module_runs_locally_through_the_cli(home, capsys):
    ArtifactStore.under(home).put_bytes(ROWS_URI + "a.csv", b"x\ny\nz\n")

    assert main(["pipeline", "run", "--local", "--module-name", TINY, "--param", f"RowsUri={ROWS_URI}"]) == 0

    out = capsys.readouterr().out
    (record,) = rec.ExecutionStore(home).list()
    assert record.pipeline_name == "tiny-pipeline" and record.pipeline_module == TINY and record.profile is None
    assert {name: step.status for name, step in record.steps.items()} == {"CountRows": rec.SUCCEEDED}
    counts = record.steps["CountRows"].outputs["outputs"]["counts"]
    assert counts == f"s3://hscode-artifacts/tiny/{record.execution_id}/counts"
    assert ArtifactStore.under(home).path_for(counts + "/counts.txt").read_text() == "3"
    assert "counted 3 rows" in out and f"Execution {record.execution_id}: Succeeded" in out

    # describe finds the module again and, without a summarize hook, shows the steps alone.
    assert main(["pipeline", "describe", record.execution_id]) == 0
    assert "pipeline module: " + TINY in capsys.readouterr().out


def test_a_failed_execution_exits_1_with_the_failure_on_stderr(home, capsys):
    assert main(["pipeline", "run", "--local", "--module-name", TINY]) == 1  # its default RowsUri holds nothing

    err = capsys.readouterr().err
    (record,) = rec.ExecutionStore(home).list()
    assert err.startswith(f"hscode pipeline run: error: execution {record.execution_id} failed: step CountRows failed")
    assert "no object or prefix at s3://hscode-artifacts/tiny/rows/" in err
    assert f"hscode pipeline retry {record.execution_id}" in err


def test_a_runner_bug_exits_1_and_says_it_is_one(home, capsys, monkeypatch):
    def broken(*_args, **_kwargs):
        raise AttributeError("'NoneType' object has no attribute 'rstrip'")

    monkeypatch.setattr("pipelines.local.runner.run_processing_job", broken)
    assert main(["pipeline", "run", "--local", "--module-name", TINY]) == 1
    err = capsys.readouterr().err
    assert ("hscode pipeline run: error: internal error in the local runner (a bug, please report it): "
            "AttributeError: 'NoneType' object has no attribute 'rstrip'") in err
    assert "runner.log" in err


def test_a_module_without_profiles_refuses_one(home, capsys):
    assert main(["pipeline", "run", "--local", "--module-name", TINY, "--profile", "quick"]) == 2
    assert f"unknown profile 'quick'; {TINY} defines no profiles" in capsys.readouterr().err


def test_an_unknown_module_is_a_usage_error(home, capsys):
    assert main(["pipeline", "run", "--local", "--module-name", "pipelines.nope.pipeline"]) == 2
    assert "--module-name pipelines.nope.pipeline: no such module" in capsys.readouterr().err


def test_the_definition_command_builds_any_module_offline(capsys, monkeypatch):
    monkeypatch.delenv("SAGEMAKER_PIPELINE_ROLE_ARN", raising=False)
    assert main(["pipeline", "definition", "--offline", "--module-name", TINY]) == 0
    definition = json.loads(capsys.readouterr().out)
    assert [s["Name"] for s in definition["Steps"]] == ["CountRows"]
    assert definition["Steps"][0]["Arguments"]["RoleArn"] == "arn:aws:iam::123456789012:role/tiny-pipeline-offline"


def test_naming_falls_back_to_the_modules_defaults_and_reports_missing_ones():
    module = PipelineModule.load(TINY)
    assert module.naming(pipeline_name="other") == {"pipeline_name": "other", "model_package_group_name": "tiny-models",
                                                    "base_job_prefix": "tiny"}
    assert module.profiles() == {} and module.profile(None) is None
    assert module.summarize(object()) == [] and module.stage_default_data(None, "b", "p") == []
    assert module.split_build_options({"search_space": "quick"}) == ({}, {"search_space": "quick"})


def test_a_naming_argument_without_a_default_must_be_given(tmp_path, monkeypatch):
    (tmp_path / "bare_pipeline_module.py").write_text(
        "def get_pipeline(region, role, default_bucket, model_package_group_name, pipeline_name='p',\n"
        "                 base_job_prefix='b', *, sagemaker_session=None): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UsageError, match="has no default model_package_group_name: pass --model-package-group"):
        PipelineModule.load("bare_pipeline_module").naming()
