import csv
import json
from datetime import datetime, timezone

from pipelines.serving.capture import LocalCaptureSink, capture_record, row_inference_ids
from pipelines.serving.feedback import (
    LocalGroundTruthSink,
    check_feedback,
    export_training_csv,
    ground_truth_record,
    read_ground_truth,
)
from tests.pipelines.serving.frontend_fixtures import normalizer

WHEN = datetime(2026, 12, 1, 20, 0, 0, 123000, tzinfo=timezone.utc)


def _check(items, known=lambda row_id: True, existing=None):
    return check_feedback(items, normalizer(), known, existing=existing)


def test_ground_truth_record_shape():
    assert ground_truth_record("abc:1", "610910") == {"groundTruthData": {"data": "610910", "encoding": "CSV"},
                                                      "eventMetadata": {"eventId": "abc:1"}, "eventVersion": "0"}


def test_codes_are_normalised_like_data_preparation():
    report = _check([{"inference_id": "a", "hs_code": "6109.10"}, {"inference_id": "b", "hs_code": "6109100010"},
                     {"inference_id": "c", "hs_code": 10121}])  # a spreadsheet number that lost its leading zero
    assert [(i["status"], i["hs_code"]) for i in report.items] == [("accepted", "610910"), ("accepted", "610910"),
                                                                   ("accepted", "010121")]


def test_invalid_code_says_did_you_mean():
    report = _check([{"inference_id": "a", "hs_code": "610919"}, {"inference_id": "b", "hs_code": "6109"}])
    first, second = report.items
    assert first["status"] == "invalid" and "not an HS 2022 subheading (did you mean" in first["message"]
    assert "4-digit heading" in second["message"] and "610910" in second["message"]
    assert report.counts()["invalid"] == 2 and report.accepted() == []


def test_malformed_items_are_invalid_each_on_its_own():
    report = _check([{"hs_code": "610910"}, {"inference_id": "", "hs_code": "610910"}, "610910",
                     {"inference_id": "a"}, {"inference_id": "b", "hs_code": ["610910"]},
                     {"inference_id": "c\n", "hs_code": "610910"}, {"inference_id": "d", "hs_code": "610910"}])
    assert [i["status"] for i in report.items] == ["invalid"] * 6 + ["accepted"]
    assert [i["message"].split(" ")[0] for i in report.items[:4]] == ["inference_id", "inference_id", "expected",
                                                                      "hs_code"]


def test_duplicates_in_the_request_and_in_the_store_and_corrections():
    report = _check([{"inference_id": "a", "hs_code": "610910"}, {"inference_id": "a", "hs_code": "610990"},
                     {"inference_id": "b", "hs_code": "610910"}, {"inference_id": "c", "hs_code": "610990"}],
                    existing={"b": "610910", "c": "610910"})
    statuses = [(i["status"], i["correction"]) for i in report.items]
    assert statuses == [("accepted", False), ("duplicate", False), ("duplicate", False), ("accepted", True)]
    assert "correcting 610910" in report.items[3]["message"]
    assert report.counts() == {"submitted": 4, "accepted": 2, "invalid": 0, "duplicate": 2, "corrections": 1,
                               "unknown_inference_id": 0}


def test_unknown_id_is_accepted_and_flagged_but_undecidable_is_not():
    known = {"seen"}
    report = _check([{"inference_id": "seen", "hs_code": "610910"}, {"inference_id": "never", "hs_code": "610910"}],
                    known=lambda row_id: row_id in known)
    assert [(i["status"], i["unknown_inference_id"]) for i in report.items] == [("accepted", False),
                                                                               ("accepted", True)]
    assert "never served here" in report.items[1]["warning"] and report.items[0]["warning"] is None
    undecided = _check([{"inference_id": "x", "hs_code": "610910"}], known=lambda row_id: None)
    assert undecided.items[0]["unknown_inference_id"] is False


def test_local_sink_layout_latest_wins_and_loads_with_json_only(tmp_path):
    sink = LocalGroundTruthSink(tmp_path)
    sink.write(ground_truth_record("a", "610910"))
    sink.write(ground_truth_record("b", "610990"))
    sink.flush()
    sink.flush()  # nothing pending: no empty file
    sink.write(ground_truth_record("a", "620520"))
    sink.close()
    files = sorted(tmp_path.glob("*/*/*/*/*.jsonl"))
    assert len(files) == 2
    labels = {}
    for path in files:  # nothing but json and the documented layout
        yyyy, mm, dd, hh = path.relative_to(tmp_path).parts[:4]
        assert len(yyyy) == 4 and len(mm) == len(dd) == len(hh) == 2
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert record["groundTruthData"]["encoding"] == "CSV" and record["eventVersion"] == "0"
            labels[record["eventMetadata"]["eventId"]] = record["groundTruthData"]["data"]
    assert labels == read_ground_truth(tmp_path) == {"a": "620520", "b": "610990"}


def test_local_sink_labels_see_other_writers(tmp_path):
    mine, other = LocalGroundTruthSink(tmp_path), LocalGroundTruthSink(tmp_path)
    mine.write(ground_truth_record("a", "610910"))
    mine.flush()
    other.write(ground_truth_record("b", "610990"))
    other.flush()
    assert mine.labels(["a", "b", "c"]) == {"a": "610910", "b": "610990"}


def _capture(sink, request_id, rows, when=WHEN):
    ids = row_inference_ids(request_id, len(rows))
    answer = {"predictions": [{"codes": ["610910"], "probabilities": [0.9], "inference_id": i} for i in ids]}
    sink.write(capture_record(request_body=json.dumps(rows).encode(), request_content_type="application/json",
                              response_body=json.dumps(answer).encode(), inference_id=request_id,
                              model_version="1", latency_ms=1.0, when=when), "hs-code", "champion")


def test_export_joins_single_and_multi_row_requests(tmp_path):
    capture = LocalCaptureSink(tmp_path / "capture", flush_interval_s=None)
    _capture(capture, "single", ["mens cotton t-shirt"])
    _capture(capture, "multi", ["stainless steel sink", 7, "womens silk blouse"])
    _capture(capture, "old", ["wooden chair"], when=WHEN.replace(day=1, hour=1))
    capture.close()
    truth = LocalGroundTruthSink(tmp_path / "truth")
    for row_id, code in [("single", "610990"), ("multi:0", "732410"), ("multi:1", "610910"),
                         ("multi:2", "610610"), ("nowhere", "610910"), ("old", "940161")]:
        truth.write(ground_truth_record(row_id, code))
    truth.flush()
    truth.write(ground_truth_record("single", "610910"))  # a correction: the latest wins
    truth.close()

    path, counts = export_training_csv(tmp_path / "capture", tmp_path / "truth", tmp_path / "out")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert path.name == "feedback.csv" and list(rows[0]) == ["description", "hs_code", "source"]
    assert sorted((r["description"], r["hs_code"], r["source"]) for r in rows) == [
        ("mens cotton t-shirt", "610910", "feedback"), ("stainless steel sink", "732410", "feedback"),
        ("womens silk blouse", "610610", "feedback"), ("wooden chair", "940161", "feedback")]
    assert counts == {"labels": 6, "joined": 4, "without_description": 1, "unusable_description": 1,
                      "corrections": 1, "missing_ids": ["nowhere"]}

    _, recent = export_training_csv(tmp_path / "capture", tmp_path / "truth", tmp_path / "recent",
                                    since=WHEN.replace(hour=2))
    assert (recent["joined"], recent["without_description"]) == (3, 2)
