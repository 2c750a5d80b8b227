import csv
import json

import pytest

from pipelines.cli import main
from pipelines.serving.capture import LocalCaptureSink
from pipelines.serving.feedback import LocalGroundTruthSink, read_ground_truth
from pipelines.serving.frontend import ServingFrontEnd
from pipelines.serving.routing import Router
from steps.hsml.csv_reader import read_labelled_csv
from tests.pipelines.serving.frontend_fixtures import ScriptedBackend, normalizer


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HSCODE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def served(home):
    """Two requests answered and captured as `hscode serve` does: ids "one" (one row) and "two:0", "two:1"."""
    frontend = ServingFrontEnd("hs-code", Router({"champion": 1}), ScriptedBackend(),
                               LocalCaptureSink(home / "capture", flush_interval_s=None),
                               LocalGroundTruthSink(home / "ground-truth"), {"champion": 0.5}, normalizer())
    for request_id, rows in (("one", ["mens cotton t-shirt"]), ("two", ["stainless steel sink", "silk blouse"])):
        body = json.dumps(rows).encode()
        assert frontend.invoke(body, "application/json", {"X-Amzn-SageMaker-Inference-Id": request_id}).status == 200
    frontend.close()
    return home


def test_add_records_reports_duplicates_and_refuses_invalid_codes(served, capsys):
    assert main(["feedback", "add", "two:1", "6206.10"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "recorded 620610 for two:1" and err == ""
    assert read_ground_truth(served / "ground-truth") == {"two:1": "620610"}
    assert main(["feedback", "add", "two:1", "620610"]) == 0
    assert "nothing recorded: two:1 already has hs_code 620610" in capsys.readouterr().out
    assert main(["feedback", "add", "two:0", "732419"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hscode feedback add: error: hs_code 732419 is not an HS 2022 subheading (did you mean")
    assert read_ground_truth(served / "ground-truth") == {"two:1": "620610"}


def test_add_warns_on_an_id_not_in_the_capture_but_records_it(served, capsys):
    assert main(["feedback", "add", "two:7", "610910"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "recorded 610910 for two:7"
    assert "warning: inference id two:7 is not in the capture under" in err
    assert read_ground_truth(served / "ground-truth") == {"two:7": "610910"}


def test_add_json_and_explicit_dirs(tmp_path, capsys):
    truth = tmp_path / "elsewhere"
    assert main(["feedback", "add", "x", "610910", "--ground-truth-dir", str(truth),
                 "--capture-dir", str(tmp_path / "none"), "--json"]) == 0
    item = json.loads(capsys.readouterr().out)
    assert (item["status"], item["hs_code"], item["unknown_inference_id"]) == ("accepted", "610910", True)
    assert read_ground_truth(truth) == {"x": "610910"}


def test_import_reports_each_row_quarantines_invalid_ones_whole(served, capsys):
    path = served / "labels.csv"
    path.write_text("Inference ID;HS Code;broker\n"
                    "one;6109.10;alice\n"
                    "two:0;7324;bob\n"
                    "two:1;620610;bob\n"
                    "two:1;620620;bob\n"
                    "ghost;610910;carol\n"
                    "lonely\n", encoding="utf-8")
    assert main(["feedback", "import", str(path)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("line 3: invalid: hs_code '7324' is a 4-digit heading")
    assert lines[1] == "line 5: duplicate: two:1 is given more than once in this request; the first one counts"
    assert lines[2].startswith("line 6: recorded 610910 for ghost; warning: inference id ghost was never served")
    assert lines[3] == "line 7: invalid: row has 1 fields, the header has 3"
    assert "3 recorded (0 corrections), 1 duplicates, 2 invalid, 1 with an inference id not in the capture, of 6" \
        in lines[4]
    assert "2 invalid rows written with their reason to" in err
    assert read_ground_truth(served / "ground-truth") == {"one": "610910", "two:1": "620610", "ghost": "610910"}
    with (served / "labels.rejected.csv").open(newline="") as handle:
        rejected = list(csv.reader(handle))
    assert rejected[0] == ["line", "reason", "Inference ID", "HS Code", "broker"]
    assert rejected[1][0] == "3" and "did you mean" in rejected[1][1] and rejected[1][2:] == ["two:0", "7324", "bob"]
    assert rejected[2][0] == "7" and rejected[2][2:] == ["lonely"]

    # fixed in place, the rejected file imports like any other
    fixed = served / "labels.rejected.csv"
    fixed.write_text("line,reason,Inference ID,HS Code,broker\n3,fixed,two:0,732410,bob\n", encoding="utf-8")
    assert main(["feedback", "import", str(fixed)]) == 0
    assert read_ground_truth(served / "ground-truth")["two:0"] == "732410"


def test_import_exits_2_when_nothing_was_recorded(served, capsys):
    path = served / "bad.csv"
    path.write_text("inference_id,hs_code\none,12\n", encoding="utf-8")
    assert main(["feedback", "import", str(path)]) == 2
    assert "nothing recorded from" in capsys.readouterr().err
    path.write_text("id,description\none,shirt\n", encoding="utf-8")
    assert main(["feedback", "import", str(path)]) == 2
    assert "no hs_code column in the header" in capsys.readouterr().err
    assert main(["feedback", "import", str(served / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_export_writes_a_csv_that_data_preparation_reads(served, capsys):
    for row_id, code in (("one", "610910"), ("two:0", "732410"), ("two:1", "620610"), ("gone", "610910")):
        assert main(["feedback", "add", row_id, code]) == 0
    assert main(["feedback", "add", "one", "610990"]) == 0  # a correction: the latest wins
    capsys.readouterr()
    out_dir = served / "export"
    assert main(["feedback", "export", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote 3 rows to {out_dir / 'feedback.csv'}: 4 labels, 3 joined")
    assert "1 without one" in out and "1 corrected" in out and "e.g.: gone" in out
    assert "InputDataUri" in out and "hscode pipeline run --local" in out
    read = read_labelled_csv(out_dir / "feedback.csv")
    assert [r.reason for r in read.records] == [None, None, None]
    assert sorted((r.fields["description"], r.fields["hs_code"], r.fields["source"]) for r in read.records) == [
        ("mens cotton t-shirt", "610990", "feedback"), ("silk blouse", "620610", "feedback"),
        ("stainless steel sink", "732410", "feedback")]


def test_export_exits_2_with_nothing_to_export(served, capsys):
    out_dir = served / "export"
    assert main(["feedback", "export", "--out", str(out_dir)]) == 2
    assert "nothing to export: 0 labels" in capsys.readouterr().err
    assert not (out_dir / "feedback.csv").exists()
    assert main(["feedback", "add", "one", "610910"]) == 0
    assert main(["feedback", "export", "--out", str(out_dir), "--since", "2999-01-01"]) == 2
    assert "since 2999-01-01" in capsys.readouterr().err
    assert main(["feedback", "export", "--out", str(out_dir), "--since", "last tuesday"]) == 2
    assert "is not a date or time" in capsys.readouterr().err
