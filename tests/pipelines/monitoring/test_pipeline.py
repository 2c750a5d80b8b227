"""The monitoring pipeline: its definition builds offline, deterministically, matches the committed snapshot, its
jobs' code bundle runs on its own, and both steps run locally with the generic runner on a small capture.

Update the snapshot after an intended DAG change with:
    HSCODE_UPDATE_SNAPSHOT=1 pytest tests/pipelines/monitoring/test_pipeline.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.cli import main
from pipelines.local import records as rec
from pipelines.local.offline import build_offline
from pipelines.local.store import ArtifactStore
from pipelines.monitoring.drift import local_metrics_file
from pipelines.monitoring.pipeline import DRIFT_STEP_NAME, JOB_EXTRA_FILES, SEED_OBJECT, STEP_NAME, job_code_bundle
from pipelines.monitoring.plans import PlanStore
from pipelines.settings import REPO_ROOT
from steps.hsml.ab_plan import make_plan, plan_to_dict
from tests.pipelines.hs_code.test_determinism import normalized
from pipelines.registry import LocalRegistry
from pipelines.serving.capture import capture_prefix, capture_record
from tests.pipelines.monitoring.synthetic import ENDPOINT, WHEN, write_experiment, write_lines
from tests.pipelines.monitoring.test_drift import WORDS, fake_model_dir

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
             "import steps.monitor, pipelines.monitoring.drift, steps.hsml.drift, steps.hsml.drift_baseline\n"
             "import pipelines\n"
             f"assert pipelines.__file__.startswith({str(tmp_path)!r}), pipelines.__file__\n"
             "steps.ab_analyze.earlier_looks\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr


def test_it_runs_locally_with_the_generic_runner_on_a_synthetic_capture(home, capsys):
    """The A/B look of a running experiment; with no model served, the drift check has nothing to check."""
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
    assert {name: step.status for name, step in record.steps.items()} == {STEP_NAME: rec.SUCCEEDED,
                                                                           DRIFT_STEP_NAME: rec.SUCCEEDED}
    uri = record.steps["AnalyzeExperiment"].outputs["outputs"]["analysis"]
    assert uri == f"s3://hscode-artifacts/ab/{ENDPOINT}/looks/{record.execution_id}"
    look = json.loads(ArtifactStore.under(home).path_for(uri + "/analysis.json").read_text())
    assert look["analysis"]["decision"] == "promote" and look["experiment"] == "hs-code-test"
    assert look["read"]["joined"] == 120 and look["read"]["bad_capture_lines"] == 1
    assert "decision promote" in out
    drift_uri = record.steps[DRIFT_STEP_NAME].outputs["outputs"]["drift"]
    checked = json.loads(ArtifactStore.under(home).path_for(drift_uri + "/drift.json").read_text())
    assert "no model deployed yet" in checked["result"]["reason"] and not local_metrics_file(home).exists()


# ---- the drift check: the bundle on its own, and the local run end to end

NOW = datetime.now(timezone.utc)


def write_served_traffic(capture_root, n, *, words=WORDS, variant="champion", when=None, seed=3):
    """What `hscode serve` captures for n single-description requests (same record format and layout)."""
    import random

    rng = random.Random(seed)
    when = when or NOW - timedelta(minutes=5)
    lines = []
    for i in range(n):
        description = " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
        prediction = {"codes": [rng.choice(("610910", "420221", "940161")), "999999"], "probabilities": [0.8, 0.2]}
        lines.append(json.dumps(capture_record(
            request_body=json.dumps({"instances": [description]}).encode(), request_content_type="application/json",
            response_body=json.dumps({"predictions": [prediction]}).encode(), inference_id=f"r{seed}-{i}",
            model_version="1", latency_ms=1.0, when=when + timedelta(milliseconds=i))))
    write_lines(capture_root / capture_prefix(ENDPOINT, variant, when) / "00-00-000-abcdef01.jsonl", lines)


def pack(model_dir, archive):
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
    return archive


def _isolated(bundle_dir, script_args: list[str]) -> str:
    """A Python program that runs steps/monitor.py as the container does, with only the bundle importable."""
    return ("import runpy, sys\n"
            "sys.meta_path = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower() and "
            "'editable' not in getattr(f, '__name__', '').lower()]\n"
            f"sys.path = [{str(bundle_dir / 'steps')!r}, {str(bundle_dir)!r}] + [p for p in sys.path if p and not "
            f"p.startswith({str(REPO_ROOT)!r}) or 'site-packages' in p]\n"
            f"sys.argv = ['monitor.py'] + {script_args!r}\n"
            "try:\n"
            f"    runpy.run_path({str(bundle_dir / 'steps' / 'monitor.py')!r}, run_name='__main__')\n"
            "finally:\n"
            "    import pipelines.monitoring.drift as d\n"
            f"    assert d.__file__.startswith({str(bundle_dir)!r}), d.__file__\n")


def test_the_drift_job_runs_from_its_bundle_alone(tmp_path):
    bundle_dir = tmp_path / "code"
    for name, body in job_code_bundle().files:
        (bundle_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (bundle_dir / name).write_bytes(body)
    env = {**os.environ, "HSCODE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(bundle_dir)}
    run = lambda args: subprocess.run([sys.executable, "-c", _isolated(bundle_dir, args)], capture_output=True,  # noqa: E731
                                      text=True, cwd=tmp_path, env=env, timeout=300)
    helped = run(["--help"])
    assert helped.returncode == 0 and "--window-hours" in helped.stdout, helped.stderr

    # The models prefix as the deploy writes it: champion/model.tar.gz + model.json; drifted traffic.
    models = tmp_path / "models"
    pack(fake_model_dir(tmp_path / "model"), models / "champion" / "model.tar.gz")
    (models / "champion" / "model.json").write_text(json.dumps({"model_package_arn": "arn:x", "model_version": "1"}))
    (models / SEED_OBJECT).write_bytes(b"")
    write_served_traffic(tmp_path / "capture", 200, words=("quantum", "flux", "capacitor", "zeolite"))
    checked = run(["--model-dir", str(models), "--capture-dir", str(tmp_path / "capture"), "--output-dir",
                   str(tmp_path / "out"), "--window-hours", "1", "--metric-sink", "local", "--group", "g"])
    assert checked.returncode == 0, checked.stderr
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["result"]["drift"] is True and report["result"]["n"] == 200
    assert report["variants"]["champion"]["model"]["version"] == "1"  # the version the traffic was served by
    (datum,) = [json.loads(line) for line in local_metrics_file(tmp_path / "home").read_text().splitlines()]
    assert datum["Value"] == report["result"]["metric"]["value"] > 1
    assert datum["Dimensions"] == [{"Name": "ModelPackageGroup", "Value": "g"}]


def test_both_steps_run_locally_over_the_served_champion_and_its_capture(home, tmp_path, capsys):
    """hscode serve's champion (latest approved) and its capture -> DriftCheck writes drift.json and the local
    metric; no experiment is running, so AnalyzeExperiment records "no-experiment" and succeeds too."""
    key = "hs-code-pipeline/e1/model.tar.gz"
    pack(fake_model_dir(tmp_path / "model"), home / "store" / "hs-mlops-artifacts" / key)
    registry = LocalRegistry()
    registry.register("hs-code-classifier", f"s3://hs-mlops-artifacts/{key}", metrics={"accuracy": 0.5},
                      execution_id="e1")
    registry.approve(1, by="test", reason="first")
    write_served_traffic(home / "capture", 150, words=("quantum", "flux", "capacitor", "zeolite"))
    write_served_traffic(home / "capture", 150, when=NOW - timedelta(days=3), seed=4)  # outside the 24 h window

    assert main(["pipeline", "run", "--local", "--module-name", MODULE]) == 0

    (record,) = rec.ExecutionStore(home).list()
    assert {name: step.status for name, step in record.steps.items()} == {STEP_NAME: rec.SUCCEEDED,
                                                                           DRIFT_STEP_NAME: rec.SUCCEEDED}
    store = ArtifactStore.under(home)
    drift_uri = record.steps[DRIFT_STEP_NAME].outputs["outputs"]["drift"]
    assert drift_uri == f"s3://hscode-artifacts/monitoring/drift/{record.execution_id}"
    report = json.loads(store.path_for(drift_uri + "/drift.json").read_text())
    assert report["result"]["drift"] is True and report["result"]["n"] == 150  # only the last 24 hours
    assert report["variants"]["champion"]["model"]["version"] == "1"
    assert store.path_for(drift_uri + "/drift.png").is_file()
    (datum,) = [json.loads(line) for line in local_metrics_file(home).read_text().splitlines()]
    assert datum["Namespace"] == "HSMLOps/Drift" and datum["MetricName"] == "KLDivergence"
    assert datum["Dimensions"] == [{"Name": "ModelPackageGroup", "Value": "hs-code-classifier"}]
    assert datum["Value"] == report["result"]["metric"]["value"] > 1
    look_uri = record.steps[STEP_NAME].outputs["outputs"]["analysis"]
    look = json.loads(store.path_for(look_uri + "/analysis.json").read_text())
    assert look["analysis"]["decision"] == "no-experiment" and look["experiment"] is None
