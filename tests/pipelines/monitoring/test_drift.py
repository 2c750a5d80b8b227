"""hscode monitor drift: the capture window, the metric, the command end to end on a fake model dir."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from pipelines.cli import main
from pipelines.monitoring import drift
from pipelines.serving.capture import capture_prefix, capture_record
from tests.pipelines.monitoring.synthetic import ENDPOINT, WHEN, request_record, write_lines

# What capture names a model served from a folder called model/ (model_host.resolve_model: a folder's name), which
# is what fake_model_dir's callers serve; the drift check counts only that version's records.
SERVED_AS = "model"
WORDS = ("cotton", "shirt", "steel", "bolt", "leather", "bag", "wooden", "chair", "laptop", "rubber", "shoe")


def _hour_dir(root, variant, when=WHEN):
    return root / capture_prefix(ENDPOINT, variant, when)


def _request(descriptions, codes, when, request_id, model_version=SERVED_AS):
    predictions = [{"codes": [code, "999999"], "probabilities": [0.8, 0.2]} for code in codes]
    return json.dumps(capture_record(request_body=json.dumps({"instances": descriptions}).encode(),
                                     request_content_type="application/json",
                                     response_body=json.dumps({"predictions": predictions}).encode(),
                                     inference_id=request_id, model_version=model_version, latency_ms=1.0,
                                     when=when))


def write_traffic(root, n, *, words=WORDS, codes=("610910", "420221", "940161"), seed=3, variant="champion",
                  model_version=SERVED_AS, file_name="00-00-000-abcdef01.jsonl"):
    rng = random.Random(seed)
    lines = [_request([" ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))], [rng.choice(codes)],
                      WHEN + timedelta(seconds=i), f"r{seed}-{i}", model_version) for i in range(n)]
    write_lines(_hour_dir(root, variant) / file_name, lines)


def test_window_counts_and_skips_what_it_cannot_use(tmp_path):
    root = tmp_path / "capture"
    good = json.dumps(request_record([("610910", "610910"), ("610910", None)], WHEN, request_id="a"))
    late = json.dumps(request_record([("610910", "420221")], WHEN + timedelta(minutes=30), request_id="b"))
    write_lines(_hour_dir(root, "champion") / "00-00-000-aaaaaaaa.jsonl", [good, late, good[:40]])
    write_lines(_hour_dir(root, "challenger") / "00-00-000-bbbbbbbb.jsonl", [good])
    write_lines(root / "other-endpoint" / "champion" / "2026/11/20/10" / "00-00-000-cccccccc.jsonl", [good])

    window = drift.select_window(root, endpoint=ENDPOINT, variant="champion")
    assert window.n == 2 and window.descriptions == ["item 0", "item 0"]  # the error row is not a row
    assert (window.requests, window.bad_lines, window.unusable_rows, window.other_files) == (2, 1, 1, 2)
    assert "line 3" in window.bad_line_examples[0]

    later = drift.select_window(root, endpoint=ENDPOINT, variant="champion", since=WHEN + timedelta(minutes=1))
    assert later.n == 1 and later.predictions[0]["codes"][0] == "420221"


def test_window_counts_only_the_version_asked_for_and_reports_the_rest(tmp_path):
    root = tmp_path / "capture"
    old, new = (_request([f"item {i}"], ["610910"], WHEN + timedelta(seconds=i), f"r{i}", version)
                for i, version in ((0, "3"), (1, "4")))
    unnamed = json.loads(_request(["item 2"], ["610910"], WHEN + timedelta(seconds=2), "r2"))
    del unnamed["eventMetadata"]["modelVersion"]  # a record no model version can claim
    write_lines(_hour_dir(root, "champion") / "00-00-000-aaaaaaaa.jsonl", [old, new, old, json.dumps(unnamed)])

    window = drift.select_window(root, endpoint=ENDPOINT, variant="champion", model_version="4")
    assert window.descriptions == ["item 1"] and window.requests == 1
    assert window.other_versions == {"3": 2, "(none)": 1} and window.other_version_records == 3
    assert window.counts()["other_version_records"] == 3 and window.counts()["model_version"] == "4"
    everything = drift.select_window(root, endpoint=ENDPOINT, variant="champion")  # version unknown: no filter
    assert everything.n == 4 and everything.other_version_records == 0


def test_window_of_a_missing_root_is_a_usage_error(tmp_path):
    with pytest.raises(drift.UsageError, match="capture dir"):
        drift.select_window(tmp_path / "nowhere")


def test_since_must_be_iso():
    assert drift.parse_since("2026-11-20T10:00:00Z") == WHEN
    assert drift.parse_since("2026-11-20T10:00:00") == WHEN  # UTC unless stated
    with pytest.raises(drift.UsageError, match="--since"):
        drift.parse_since("yesterday")


def test_local_metric_file_holds_the_datum(tmp_path):
    datum = drift.metric_datum({"metric": {"value": 2.5}}, "hs-code-classifier", WHEN)
    path = drift.publish_local(datum, tmp_path)
    assert path == tmp_path / "metrics" / "HSMLOps-Drift.jsonl"
    drift.publish_local(drift.metric_datum({"metric": {"value": 0.5}}, "g", WHEN), tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["Value"] for line in lines] == [2.5, 0.5]
    assert lines[0]["Namespace"] == "HSMLOps/Drift" and lines[0]["MetricName"] == "KLDivergence"
    assert lines[0]["Dimensions"] == [{"Name": "ModelPackageGroup", "Value": "hs-code-classifier"}]


def test_cloudwatch_gets_the_namespace_and_datum():
    calls = []

    class Client:
        def put_metric_data(self, **kwargs):
            calls.append(kwargs)

    datum = drift.metric_datum({"metric": {"value": 1.2}}, "grp", WHEN)
    drift.publish_cloudwatch(datum, client=Client())
    assert calls == [{"Namespace": "HSMLOps/Drift", "MetricData": [datum]}]


# ---- the command, on a model dir with a SavedModel placeholder, an encoder and a baseline

@pytest.fixture
def model_dir(tmp_path):
    pytest.importorskip("steps.hsml.drift_baseline")
    return fake_model_dir(tmp_path / "model")


def fake_model_dir(path):
    from steps.hsml import drift_baseline as baseline_module
    from steps.hsml.encoder import TextEncoder

    rng = random.Random(1)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) for _ in range(600)]
    codes = [rng.choice(("610910", "420221", "940161")) for _ in texts]
    encoder = TextEncoder.fit(texts)
    (path / "1").mkdir(parents=True)
    (path / "1" / "saved_model.pb").write_bytes(b"placeholder")  # the check never loads the SavedModel
    encoder.save(path / "encoder.json")
    predictions = [{"codes": [code], "probabilities": [0.8]} for code in codes]
    baseline_module.write_baseline(baseline_module.build_baseline(texts, predictions, encoder), path)
    return path


def _run(capsys, *argv):
    status = main(["monitor", "drift", *map(str, argv)])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_same_traffic_is_not_drift_and_publishes_the_metric(home, tmp_path, model_dir, capsys):
    write_traffic(tmp_path / "capture", 300)
    status, out, _ = _run(capsys, "--model", model_dir, "--capture", tmp_path / "capture", "--out", tmp_path / "o",
                          "--json")
    report = json.loads(out)
    assert status == 0 and report["result"]["drift"] is False and report["window"]["rows"] == 300
    assert (tmp_path / "o" / "drift.json").is_file() and (tmp_path / "o" / "drift.png").is_file()
    line = json.loads(drift.local_metrics_file(home).read_text())
    assert line["Value"] == report["result"]["metric"]["value"] <= 1.0
    assert line["Dimensions"][0]["Value"] == "hs-code-classifier"


def test_shifted_traffic_is_drift(home, tmp_path, model_dir, capsys):
    write_traffic(tmp_path / "capture", 300, words=("quantum", "flux", "capacitor", "zeolite"), codes=("850440",))
    status, out, _ = _run(capsys, "--model", model_dir, "--capture", tmp_path / "capture", "--out", tmp_path / "o",
                          "--group", "my-group")
    assert status == 0 and "drift: YES" in out
    line = json.loads(drift.local_metrics_file(home).read_text())
    assert line["Value"] > drift.ALARM_THRESHOLD and line["Dimensions"][0]["Value"] == "my-group"


def test_empty_window_is_not_enough_data_and_no_metric(home, tmp_path, model_dir, capsys):
    (tmp_path / "capture").mkdir()
    status, out, _ = _run(capsys, "--model", model_dir, "--capture", tmp_path / "capture", "--out", tmp_path / "o")
    assert status == 0 and "not enough data (n < min)" in out
    assert not drift.local_metrics_file(home).exists()
    assert json.loads((tmp_path / "o" / "drift.json").read_text())["result"]["metric"]["value"] is None


def test_model_without_baseline_exits_2(home, tmp_path, model_dir, capsys):
    (model_dir / "drift_baseline.json").unlink()
    (tmp_path / "capture").mkdir()
    status, _, err = _run(capsys, "--model", model_dir, "--capture", tmp_path / "capture")
    assert status == 2 and "hscode monitor drift: error:" in err and "no drift baseline" in err


# ---- the job script

def test_job_script_on_a_packed_model(home, tmp_path, model_dir, capsys):
    import tarfile

    from steps import monitor

    archive_dir = tmp_path / "model-input"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "model.tar.gz", "w:gz") as archive:
        for path in model_dir.rglob("*"):
            archive.add(path, arcname=str(path.relative_to(model_dir)))
    write_traffic(tmp_path / "capture", 300, words=("quantum", "flux", "capacitor", "zeolite"), codes=("850440",))
    status = monitor.main(["--model-dir", str(archive_dir), "--capture-dir", str(tmp_path / "capture"),
                           "--output-dir", str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert status == 0 and report["result"]["drift"] is True and "drift True" in capsys.readouterr().out
    assert not drift.local_metrics_file(home).exists()  # a job publishes to CloudWatch only, when asked


def test_job_script_refuses_a_folder_without_a_model(tmp_path, capsys):
    from steps import monitor

    (tmp_path / "empty").mkdir()
    status = monitor.main(["--model-dir", str(tmp_path / "empty"), "--capture-dir", str(tmp_path),
                           "--output-dir", str(tmp_path / "out")])
    assert status == 2 and "neither a model dir" in capsys.readouterr().err


def test_registry_ref_resolves_as_serve_does_and_the_group_is_the_dimension(home, tmp_path, model_dir, capsys):
    import tarfile

    from pipelines.registry import LocalRegistry

    key = "hs-code-pipeline/drift/model.tar.gz"
    target = home / "store" / "hs-mlops-artifacts" / key
    target.parent.mkdir(parents=True)
    with tarfile.open(target, "w:gz") as archive:
        for path in model_dir.rglob("*"):
            archive.add(path, arcname=str(path.relative_to(model_dir)))
    registry = LocalRegistry()
    registry.register("drift-group", f"s3://hs-mlops-artifacts/{key}", metrics={"accuracy": 0.5}, execution_id="e")
    registry.approve(1, group="drift-group", by="test", reason="first")
    write_traffic(tmp_path / "capture", 300, model_version="1")
    status, out, _ = _run(capsys, "--model", "latest-approved", "--group", "drift-group", "--capture",
                          tmp_path / "capture", "--out", tmp_path / "o", "--json")
    report = json.loads(out)
    assert status == 0 and report["model"]["version"] == "1" and report["model"]["group"] == "drift-group"
    assert json.loads(drift.local_metrics_file(home).read_text())["Dimensions"][0]["Value"] == "drift-group"


def _register(home, model_dir, group, versions):
    """`versions` approved versions of the same model in the local registry (the latest is what serve serves)."""
    import tarfile

    from pipelines.registry import LocalRegistry

    registry = LocalRegistry()
    for number in range(1, versions + 1):
        key = f"hs-code-pipeline/drift-{number}/model.tar.gz"
        target = home / "store" / "hs-mlops-artifacts" / key
        target.parent.mkdir(parents=True)
        with tarfile.open(target, "w:gz") as archive:
            for path in model_dir.rglob("*"):
                archive.add(path, arcname=str(path.relative_to(model_dir)))
        registry.register(group, f"s3://hs-mlops-artifacts/{key}", metrics={"accuracy": 0.5}, execution_id=f"e{number}")
        registry.approve(number, group=group, by="test", reason="deployed")


def test_after_a_deploy_the_previous_versions_traffic_is_left_out_and_counted(home, tmp_path, model_dir):
    """Version 2 replaced version 1 inside the window: version 1's (shifted) traffic would be drift against
    version 2's baseline if it counted; only version 2's records are compared, and the rest is reported."""
    _register(home, model_dir, "drift-group", versions=2)
    write_traffic(tmp_path / "capture", 300, words=("quantum", "flux", "capacitor", "zeolite"), codes=("850440",),
                  model_version="1", file_name="00-00-000-aaaaaaaa.jsonl")
    write_traffic(tmp_path / "capture", 300, seed=4, model_version="2", file_name="30-00-000-bbbbbbbb.jsonl")

    report = drift.check_drift("latest-approved", tmp_path / "capture", group="drift-group", out_dir=tmp_path / "o")
    assert report.model["version"] == "2" and report.result["drift"] is False and report.result["n"] == 300
    written = json.loads((tmp_path / "o" / "drift.json").read_text())["window"]
    assert (written["model_version"], written["rows"], written["requests"]) == ("2", 300, 300)
    assert written["other_version_records"] == 300 and written["other_versions"] == {"1": 300}
    text = drift.summary(report)
    assert "version 2 only: 300 rows" in text and "300 records answered by another model version (1: 300)" in text


def test_each_variant_counts_its_deployed_version_only_and_the_job_log_says_what_it_left_out(home, tmp_path,
                                                                                             capsys):
    from steps import monitor

    models = tmp_path / "models"
    fake_model_dir(models / "champion")  # a variant folder as the deploy writes it, the model already extracted
    (models / "champion" / "model.json").write_text(json.dumps({"model_package_arn": "arn:x", "model_version": 5}))
    write_traffic(tmp_path / "capture", 120, model_version="5", file_name="00-00-000-aaaaaaaa.jsonl")
    write_traffic(tmp_path / "capture", 40, seed=5, model_version="4", file_name="00-00-000-bbbbbbbb.jsonl")

    assert monitor.main(["--model-dir", str(models), "--capture-dir", str(tmp_path / "capture"),
                         "--output-dir", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["result"]["n"] == 120 and report["variants"]["champion"]["other_version_records"] == 40
    assert report["window"]["other_versions"] == {"4": 40}
    out = capsys.readouterr().out
    assert "variant champion: " in out and "40 records of another model version left out" in out
    assert "40 records of another model version skipped" in out


def test_a_single_models_job_counts_the_version_its_model_json_names(home, tmp_path, capsys):
    from steps import monitor

    model = tmp_path / "model"
    fake_model_dir(model)
    (model / "model.json").write_text(json.dumps({"model_package_arn": "arn:x", "model_version": 3}))
    write_traffic(tmp_path / "capture", 90, model_version="3", file_name="00-00-000-aaaaaaaa.jsonl")
    write_traffic(tmp_path / "capture", 30, seed=5, model_version="2", file_name="00-00-000-bbbbbbbb.jsonl")
    assert monitor.main(["--model-dir", str(model), "--capture-dir", str(tmp_path / "capture"),
                         "--output-dir", str(tmp_path / "out")]) == 0
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert report["result"]["n"] == 90 and report["window"]["other_versions"] == {"2": 30}
    assert "30 records of another model version skipped" in capsys.readouterr().out
