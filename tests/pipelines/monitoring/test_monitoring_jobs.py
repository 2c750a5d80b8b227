"""The monitoring pipeline's two job scripts on their own: no experiment is a normal look, a malformed plan is
bad input; the drift job's window, sinks, variant folders and the seed-only models prefix."""
from __future__ import annotations

import json

import pytest

from pipelines.monitoring.drift import SEED_OBJECT, local_metrics_file
from pipelines.settings import HS2022_NOMENCLATURE
from steps import ab_analyze, monitor
from tests.pipelines.monitoring.test_drift import fake_model_dir
from tests.pipelines.monitoring.test_pipeline import pack, write_served_traffic


def _analyze(tmp_path, plan_dir):
    reference = tmp_path / "reference"
    reference.mkdir(exist_ok=True)
    (reference / HS2022_NOMENCLATURE.name).write_bytes(HS2022_NOMENCLATURE.read_bytes())
    (tmp_path / "capture").mkdir(exist_ok=True)
    (tmp_path / "ground-truth").mkdir(exist_ok=True)
    return ab_analyze.main(["--plan-dir", str(plan_dir), "--capture-dir", str(tmp_path / "capture"),
                            "--ground-truth-dir", str(tmp_path / "ground-truth"), "--reference-dir",
                            str(reference), "--endpoint-name", "hs-code", "--output-dir", str(tmp_path / "out")])


def test_no_running_experiment_is_a_look_that_says_so(tmp_path, capsys):
    plan_dir = tmp_path / "plan"
    (plan_dir / "closed" / "exp-1").mkdir(parents=True)  # what `hscode ab decide` leaves behind
    (plan_dir / SEED_OBJECT).write_bytes(b"")
    assert _analyze(tmp_path, plan_dir) == 0
    look = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert look["analysis"]["decision"] == ab_analyze.NO_EXPERIMENT and look["experiment"] is None
    assert "no experiment is running" in capsys.readouterr().out


def test_a_malformed_plan_is_still_bad_input(tmp_path, capsys):
    plan_dir = tmp_path / "plan"
    plan_dir.mkdir()
    (plan_dir / "plan.json").write_text('{"champion": "champion"')
    assert _analyze(tmp_path, plan_dir) == 2
    assert "ab_analyze.py: error:" in capsys.readouterr().err
    assert not (tmp_path / "out" / "analysis.json").exists()


def _models(tmp_path, *variants):
    models = tmp_path / "models"
    for variant in variants:
        pack(fake_model_dir(tmp_path / f"model-{variant}"), models / variant / "model.tar.gz")
    (models / SEED_OBJECT).parent.mkdir(parents=True, exist_ok=True)
    (models / SEED_OBJECT).write_bytes(b"")
    return models


def _check(tmp_path, models, *extra):
    return monitor.main(["--model-dir", str(models), "--capture-dir", str(tmp_path / "capture"), "--output-dir",
                         str(tmp_path / "out"), *extra])


def test_each_variant_is_checked_and_the_metric_is_the_largest(home, tmp_path):
    models = _models(tmp_path, "champion", "challenger")
    write_served_traffic(tmp_path / "capture", 150, variant="champion")
    write_served_traffic(tmp_path / "capture", 150, variant="challenger",
                         words=("quantum", "flux", "capacitor", "zeolite"))
    assert _check(tmp_path, models, "--window-hours", "1", "--metric-sink", "local") == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    variants = report["variants"]
    assert variants["challenger"]["metric"] > 1 >= variants["champion"]["metric"]
    assert report["result"]["drift"] is True and report["result"]["variant"] == "challenger"
    (datum,) = [json.loads(line) for line in local_metrics_file(home).read_text().splitlines()]
    assert datum["Value"] == variants["challenger"]["metric"]
    assert (tmp_path / "out" / "challenger" / "drift.json").is_file()


def test_a_variant_without_enough_traffic_does_not_set_the_metric(home, tmp_path):
    """After an A/B promotion the champion variant gets no traffic; the challenger's model carries the check."""
    models = _models(tmp_path, "champion", "challenger")
    write_served_traffic(tmp_path / "capture", 150, variant="challenger")
    assert _check(tmp_path, models, "--window-hours", "1", "--metric-sink", "local") == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["variants"]["champion"]["metric"] is None and report["result"]["variant"] == "challenger"
    assert report["result"]["drift"] is False and local_metrics_file(home).is_file()


def test_the_window_is_the_last_hours_only(home, tmp_path):
    from datetime import datetime, timedelta, timezone

    models = _models(tmp_path, "champion")
    write_served_traffic(tmp_path / "capture", 150, when=datetime.now(timezone.utc) - timedelta(hours=30))
    assert _check(tmp_path, models, "--window-hours", "24", "--metric-sink", "local") == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["result"]["n"] == 0 and "not enough data" in report["result"]["reason"]
    assert not local_metrics_file(home).exists()


def test_a_models_prefix_with_only_its_seed_has_nothing_to_check(home, tmp_path, capsys):
    models = _models(tmp_path)
    (tmp_path / "capture").mkdir()
    assert _check(tmp_path, models, "--metric-sink", "local") == 0
    assert "no model deployed yet" in json.loads((tmp_path / "out" / "drift.json").read_text())["result"]["reason"]
    assert not local_metrics_file(home).exists()


@pytest.mark.parametrize("extra, says", [
    (["--window-hours", "0"], "positive number of hours"),
    (["--window-hours", "2", "--since", "2026-11-20T00:00:00Z"], "not both"),
    (["--variant", "challenger"], "holds only champion"),
])
def test_bad_options_exit_2(tmp_path, capsys, extra, says):
    models = _models(tmp_path, "champion")
    (tmp_path / "capture").mkdir()
    assert _check(tmp_path, models, *extra) == 2
    assert says in capsys.readouterr().err
