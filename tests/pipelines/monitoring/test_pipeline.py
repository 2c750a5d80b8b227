"""The monitoring pipeline: its definition builds offline, deterministically, matches the committed snapshot, and
runs locally with the generic runner on a small synthetic capture.

Update the snapshot after an intended DAG change with:
    HSCODE_UPDATE_SNAPSHOT=1 pytest tests/pipelines/monitoring/test_pipeline.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from pipelines.cli import main
from pipelines.local import records as rec
from pipelines.local.offline import build_offline
from pipelines.local.store import ArtifactStore
from pipelines.monitoring.pipeline import JOB_EXTRA_FILES, job_code_bundle
from pipelines.monitoring.plans import PlanStore
from pipelines.settings import REPO_ROOT
from steps.hsml.ab_plan import make_plan, plan_to_dict
from tests.pipelines.hs_code.test_determinism import normalized
from tests.pipelines.monitoring.synthetic import ENDPOINT, WHEN, write_experiment

MODULE = "pipelines.monitoring.pipeline"
SNAPSHOT = os.path.join(os.path.dirname(__file__), "definition.snapshot.json")
UPDATE_COMMAND = "HSCODE_UPDATE_SNAPSHOT=1 pytest tests/pipelines/monitoring/test_pipeline.py"


@pytest.fixture(scope="module")
def offline_build():
    return build_offline(MODULE, stage_data=False)


def test_two_builds_are_byte_identical(offline_build):
    again = build_offline(MODULE, stage_data=False)
    assert again.definition == offline_build.definition and again.objects == offline_build.objects


def test_definition_matches_committed_snapshot(offline_build):
    current = normalized(offline_build.definition)
    if os.environ.get("HSCODE_UPDATE_SNAPSHOT") == "1":
        with open(SNAPSHOT, "w", encoding="utf-8") as out:
            out.write(current)
    assert os.path.exists(SNAPSHOT), f"no snapshot yet: run {UPDATE_COMMAND}"
    with open(SNAPSHOT, encoding="utf-8") as handle:
        assert current == handle.read(), f"the monitoring definition changed; if intended, run: {UPDATE_COMMAND}"


def test_the_job_bundle_is_steps_plus_the_capture_readers_and_imports_on_its_own(tmp_path):
    bundle = job_code_bundle()
    names = {name for name, _ in bundle.files}
    assert set(JOB_EXTRA_FILES) <= names and "steps/ab_analyze.py" in names
    assert not any(name.startswith("pipelines/") and name not in JOB_EXTRA_FILES for name in names)
    for name, body in bundle.files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    # Only the bundle on the path (the editable install's finder and the source tree removed): every import the
    # job makes must resolve inside it, as in the container.
    probe = ("import sys\n"
             "sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower() and "
             "'editable' not in getattr(f, '__name__', '').lower()]\n"
             f"sys.path = [{str(tmp_path)!r}] + [p for p in sys.path if p and not p.startswith({str(REPO_ROOT)!r})"
             " or 'site-packages' in p]\n"
             "import steps.ab_analyze, pipelines.monitoring.looks, pipelines.monitoring.plans\n"
             "import pipelines\n"
             f"assert pipelines.__file__.startswith({str(tmp_path)!r}), pipelines.__file__\n"
             "steps.ab_analyze.earlier_looks\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr


def test_it_runs_locally_with_the_generic_runner_on_a_synthetic_capture(home, capsys):
    plan = make_plan("champion", "challenger", {"champion": 0.5, "challenger": 0.5}, 0.5, mde=0.3, looks=2,
                     created=(WHEN - timedelta(hours=1)).isoformat(), experiment_id="hs-code-test")
    PlanStore(home, ENDPOINT).start(plan_to_dict(plan))
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 60, "challenger": 60},
                     accuracy={"champion": 0.5, "challenger": 0.97})
    # A truncated line in the capture is counted, not fatal, in the job too.
    (home / "capture" / ENDPOINT / "challenger" / "2026/11/20/10" / "59-00-000-truncate.jsonl").write_text('{"capt')

    assert main(["pipeline", "run", "--local", "--module-name", MODULE]) == 0

    out = capsys.readouterr().out
    (record,) = rec.ExecutionStore(home).list()
    assert {name: step.status for name, step in record.steps.items()} == {"AnalyzeExperiment": rec.SUCCEEDED}
    uri = record.steps["AnalyzeExperiment"].outputs["outputs"]["analysis"]
    assert uri == f"s3://hscode-artifacts/monitoring/ab/{ENDPOINT}/looks/{record.execution_id}"
    look = json.loads(ArtifactStore.under(home).path_for(uri + "/analysis.json").read_text())
    assert look["analysis"]["decision"] == "promote" and look["experiment"] == "hs-code-test"
    assert look["read"]["joined"] == 120 and look["read"]["bad_capture_lines"] == 1
    assert "decision promote" in out
