import base64
import json
import re
import threading
import time
from datetime import datetime, timezone

import pytest

from pipelines.serving.capture import (
    CapturedIds,
    FileNamer,
    LocalCaptureSink,
    capture_prefix,
    capture_record,
    read_capture,
    row_inference_ids,
    split_row_inference_id,
)

WHEN = datetime(2026, 12, 1, 20, 0, 0, 123456, tzinfo=timezone.utc)
FILE_NAME = re.compile(r"^\d{2}-\d{2}-\d{3}-[0-9a-f]{8}\.jsonl$")


def _record(request_id="req", when=WHEN, rows=("mens cotton t-shirt",)):
    body = json.dumps(list(rows)).encode()
    ids = row_inference_ids(request_id, len(rows))
    answer = {"predictions": [{"codes": ["610910"], "probabilities": [0.9], "inference_id": i, "variant": "champion",
                               "decision": "accept"} for i in ids]}
    return capture_record(request_body=body, request_content_type="application/json",
                          response_body=json.dumps(answer).encode(), inference_id=request_id, model_version="3",
                          latency_ms=1.23456, when=when)


def test_capture_record_shape_is_exactly_the_spec():
    record = capture_record(request_body=b'{"instances": ["a"]}', request_content_type="application/json",
                            response_body=b'{"predictions": []}', inference_id="abc", model_version="3",
                            latency_ms=1.23456, when=WHEN, event_id="e-1")
    assert record == {
        "captureData": {
            "endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                              "data": '{"instances": ["a"]}', "encoding": "JSON"},
            "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                               "data": '{"predictions": []}', "encoding": "JSON"},
        },
        "eventMetadata": {"eventId": "e-1", "inferenceId": "abc", "inferenceTime": "2026-12-01T20:00:00.123Z",
                          "modelVersion": "3", "latencyMs": 1.235},
        "eventVersion": "0",
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", _record()["eventMetadata"]["eventId"])  # a uuid4 when not given


@pytest.mark.parametrize("content_type, body, encoding, data", [
    ("application/jsonlines", b'"a"\n"b"\n', "JSON", '"a"\n"b"\n'),
    ("text/csv; charset=utf-8", b"a\nb\n", "CSV", "a\nb\n"),
    ("application/x-npy", b"\x93NUMPY", "BASE64", base64.b64encode(b"\x93NUMPY").decode()),
    ("application/json", b'"\xff"', "BASE64", base64.b64encode(b'"\xff"').decode()),  # not UTF-8
])
def test_capture_encodings(content_type, body, encoding, data):
    record = capture_record(request_body=body, request_content_type=content_type, response_body=b"{}",
                            inference_id="x", model_version="1", latency_ms=0, when=WHEN)
    captured = record["captureData"]["endpointInput"]
    assert (captured["observedContentType"], captured["encoding"], captured["data"]) == (content_type, encoding, data)


def test_row_ids_and_their_split():
    assert row_inference_ids("abc", 1) == ["abc"]
    assert row_inference_ids("abc", 3) == ["abc:0", "abc:1", "abc:2"]
    assert split_row_inference_id("abc:2") == ("abc", 2)
    assert split_row_inference_id("abc") == ("abc", 0)
    assert split_row_inference_id("abc:x") == ("abc:x", 0)


def test_prefix_is_utc_hour():
    local = datetime(2026, 12, 1, 21, 30, tzinfo=timezone.utc).astimezone()
    assert capture_prefix("hs-code", "champion", local) == "hs-code/champion/2026/12/01/21"


def test_layout_on_disk_one_file_per_variant_and_hour(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=None)
    later = WHEN.replace(hour=21, minute=5, second=7, microsecond=8000)
    sink.write(_record("a"), "hs-code", "champion")
    sink.write(_record("b"), "hs-code", "champion")
    sink.write(_record("c", when=later), "hs-code", "champion")
    sink.write(_record("d"), "hs-code", "challenger")
    sink.flush()
    files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p.parent) for p in files] == ["hs-code/challenger/2026/12/01/20", "hs-code/champion/2026/12/01/20",
                                              "hs-code/champion/2026/12/01/21"]
    assert all(FILE_NAME.match(p.name) for p in files)
    assert files[2].name.startswith("05-07-008-")  # minute-second-millisecond of its first record
    assert [len(p.read_text().splitlines()) for p in (tmp_path / f for f in files)] == [1, 2, 1]
    assert sink.stats() == {"written": 4, "failed": 0, "pending": 0}


def test_files_load_with_nothing_but_json_and_the_layout(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=None)
    sink.write(_record("one"), "hs-code", "champion")
    sink.write(_record("many", rows=("a", "b")), "hs-code", "challenger")
    sink.close()
    seen = {}
    for path in tmp_path.glob("*/*/*/*/*/*/*.jsonl"):
        endpoint, variant, yyyy, mm, dd, hh = path.relative_to(tmp_path).parts[:6]
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            assert record["eventMetadata"]["inferenceTime"].startswith(f"{yyyy}-{mm}-{dd}T{hh}:")
            request = json.loads(record["captureData"]["endpointInput"]["data"])
            response = json.loads(record["captureData"]["endpointOutput"]["data"])
            seen[record["eventMetadata"]["inferenceId"]] = (endpoint, variant, request,
                                                            [p["inference_id"] for p in response["predictions"]])
    assert seen == {"one": ("hs-code", "champion", ["mens cotton t-shirt"], ["one"]),
                    "many": ("hs-code", "challenger", ["a", "b"], ["many:0", "many:1"])}


def _wait_for(condition, limit_s=30.0):
    """Wait for a background thread's effect (not a timing assertion: the limit only stops a hung test)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_timer_flushes_buffered_records(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=0.05)
    try:
        sink.write(_record("a"), "hs-code", "champion")
        assert _wait_for(lambda: sink.stats()["written"] == 1)
        assert len(list(tmp_path.rglob("*.jsonl"))) == 1
    finally:
        sink.close()


def test_close_flushes_everything_and_later_writes_go_straight_to_disk(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=3600)
    for i in range(50):
        sink.write(_record(f"r{i}"), "hs-code", "champion")
    assert list(tmp_path.rglob("*.jsonl")) == []
    assert sink.stats() == {"written": 0, "failed": 0, "pending": 50}
    sink.close()
    assert sink.stats() == {"written": 50, "failed": 0, "pending": 0}
    sink.write(_record("late"), "hs-code", "champion")
    assert sink.stats()["written"] == 51
    assert sorted(c.request_id for c in read_capture(tmp_path)) == sorted([f"r{i}" for i in range(50)] + ["late"])


def test_pending_is_bounded_and_nothing_is_dropped(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=None, max_pending=3)
    for i in range(7):
        sink.write(_record(f"r{i}"), "hs-code", "champion")
        assert sink.stats()["pending"] < 3
    assert sink.stats() == {"written": 6, "failed": 0, "pending": 1}
    sink.close()
    assert len(list(read_capture(tmp_path))) == 7


def test_concurrent_writers_lose_nothing(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=0.01, max_pending=50)

    def writer(k):
        for i in range(200):
            sink.write(_record(f"w{k}-{i}"), "hs-code", "champion")

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    assert sink.stats() == {"written": 800, "failed": 0, "pending": 0}
    assert len({c.request_id for c in read_capture(tmp_path)}) == 800


def test_a_failing_store_is_counted_never_raised(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the capture root should be")
    sink = LocalCaptureSink(blocker, flush_interval_s=None)
    sink.write(_record("a"), "hs-code", "champion")
    sink.write({"no": "metadata"}, "hs-code", "champion")  # a record that cannot be filed
    sink.close()
    assert sink.stats() == {"written": 0, "failed": 2, "pending": 0}


def test_read_capture_filters_and_parses(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=None)
    sink.write(_record("early"), "hs-code", "champion")
    sink.write(_record("late", when=WHEN.replace(hour=22), rows=("a", "b")), "hs-code", "challenger")
    sink.write(_record("other"), "other-endpoint", "champion")
    sink.close()
    (tmp_path / "hs-code" / "champion" / "2026" / "12" / "01" / "20" / "00-00-000-deadbeef.jsonl").write_text(
        "not json\n")
    everything = {c.request_id for c in read_capture(tmp_path)}
    assert everything == {"early", "late", "other"}  # the bad line is skipped
    assert {c.request_id for c in read_capture(tmp_path, endpoint="hs-code")} == {"early", "late"}
    assert {c.request_id for c in read_capture(tmp_path, variant="challenger")} == {"late"}
    assert {c.request_id for c in read_capture(tmp_path, since=WHEN.replace(hour=21))} == {"late"}
    assert {c.request_id for c in read_capture(tmp_path, until=WHEN.replace(microsecond=123000))} == set()
    assert {c.request_id for c in read_capture(tmp_path, until=WHEN.replace(microsecond=124000))} == {"early", "other"}
    late = next(read_capture(tmp_path, variant="challenger"))
    assert (late.endpoint, late.variant, late.content_type, late.model_version, late.latency_ms) == \
        ("hs-code", "challenger", "application/json", "3", 1.235)
    assert late.inference_time == WHEN.replace(hour=22, microsecond=123000)
    assert [(row_id, description) for row_id, description, _ in late.rows()] == [("late:0", "a"), ("late:1", "b")]
    assert late.predictions[1]["decision"] == "accept"


def test_captured_ids_sees_new_files(tmp_path):
    sink = LocalCaptureSink(tmp_path, flush_interval_s=None)
    sink.write(_record("one"), "hs-code", "champion")
    sink.flush()
    known = CapturedIds(tmp_path, rescan_s=0)
    assert known("one") and not known("two:1")
    sink.write(_record("two", rows=("a", "b")), "hs-code", "champion")
    sink.flush()
    assert known("two:1") and not known("two:2") and not known("two")


def test_files_named_within_one_millisecond_sort_in_write_order():
    namer = FileNamer()
    names = [namer.name(WHEN, "hs-code/champion/2026/12/01/20") for _ in range(50)]
    assert sorted(names) == names and names[0].startswith("00-00-123-") and names[1].startswith("00-00-124-")
    assert namer.name(WHEN, "another/folder").startswith("00-00-123-")  # folders are independent
    last = WHEN.replace(minute=59, second=59, microsecond=999000)
    assert namer.name(last, "f").startswith("59-59-999-") and namer.name(last, "f").startswith("59-59-999-")
