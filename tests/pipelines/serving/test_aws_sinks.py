"""S3 capture and ground-truth sinks and their readers (aws_sinks), against moto's S3."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from pipelines.serving.aws_sinks import (
    S3CaptureSink,
    S3GroundTruthSink,
    folder,
    read_capture_s3,
    read_ground_truth_s3,
    split_s3_uri,
)
from pipelines.serving.capture import capture_record
from pipelines.serving.feedback import ground_truth_record

BUCKET = "capture-bucket"
T0 = datetime(2026, 12, 1, 20, 59, 59, 999_000, tzinfo=timezone.utc)


@pytest.fixture
def s3(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def record(request_id: str, when: datetime, rows: list[str]) -> dict:
    response = {"predictions": [{"codes": ["610910"], "probabilities": [0.9], "inference_id": f"{request_id}:{i}"}
                                for i in range(len(rows))]}
    return capture_record(request_body=json.dumps(rows).encode(), request_content_type="application/json",
                          response_body=json.dumps(response).encode(), inference_id=request_id,
                          model_version="3", latency_ms=4.2, when=when)


def keys(s3, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_records_are_filed_by_endpoint_variant_and_the_hour_of_their_inference_time(s3):
    sink = S3CaptureSink(s3, BUCKET, "capture")
    sink.write(record("a", T0, ["x", "y"]), "hs-code", "champion")
    sink.write(record("b", T0 + timedelta(milliseconds=2), ["z"]), "hs-code", "champion")  # the next hour
    sink.write(record("c", T0, ["w", "v"]), "hs-code", "challenger")
    assert sink.stats() == {"written": 0, "failed": 0, "pending": 3}  # no timer: the handler flushes
    sink.flush()
    assert sink.stats() == {"written": 3, "failed": 0, "pending": 0}
    found = keys(s3)
    assert [k.rsplit("/", 1)[0] for k in found] == [
        "capture/hs-code/challenger/2026/12/01/20", "capture/hs-code/champion/2026/12/01/20",
        "capture/hs-code/champion/2026/12/01/21"]
    assert found[1].endswith(".jsonl") and found[1].rsplit("/", 1)[1].startswith("59-59-999-")
    assert s3.head_object(Bucket=BUCKET, Key=found[0])["ContentType"] == "application/jsonlines"


def test_a_failed_put_is_counted_not_raised(s3):
    sink = S3CaptureSink(s3, "no-such-bucket", "capture/")
    sink.write(record("a", T0, ["x"]), "hs-code", "champion")
    sink.flush()
    assert sink.stats() == {"written": 0, "failed": 1, "pending": 0}


def test_the_reader_filters_by_endpoint_variant_and_time_and_skips_what_is_not_capture(s3):
    sink = S3CaptureSink(s3, BUCKET, "capture/")
    for hours, request_id in [(-30, "old"), (0, "now"), (1, "next"), (5, "later")]:
        sink.write(record(request_id, T0 + timedelta(hours=hours), ["cotton t-shirt"]), "hs-code", "champion")
    sink.write(record("other", T0, ["steel sink"]), "hs-code", "challenger")
    sink.write(record("elsewhere", T0, ["fresh apples"]), "other-endpoint", "champion")
    sink.flush()
    s3.put_object(Bucket=BUCKET, Key="capture/hs-code/champion/2026/12/01/20/notes.txt", Body=b"not capture")
    s3.put_object(Bucket=BUCKET, Key="capture/hs-code/champion/2026/12/01/20/00-00-000-bad.jsonl",
                  Body=b'{"not": "a capture record"}\n\n')
    root = f"s3://{BUCKET}/capture"

    every = list(read_capture_s3(root, client=s3))
    assert sorted(c.request_id for c in every) == ["elsewhere", "later", "next", "now", "old", "other"]
    champion = [c.request_id for c in read_capture_s3(root, "hs-code", "champion", client=s3)]
    assert champion == ["old", "now", "next", "later"]  # time order
    window = read_capture_s3(root, "hs-code", since=T0 - timedelta(minutes=1), until=T0 + timedelta(hours=2),
                             client=s3)
    assert sorted(c.request_id for c in window) == ["next", "now", "other"]
    naive_until = read_capture_s3(root, "hs-code", "champion", until=T0.replace(tzinfo=None), client=s3)
    assert [c.request_id for c in naive_until] == ["old"]  # naive datetimes are UTC

    now = next(c for c in every if c.request_id == "now")
    assert (now.endpoint, now.variant, now.model_version, now.latency_ms) == ("hs-code", "champion", "3", 4.2)
    assert now.descriptions == ["cotton t-shirt"] and now.inference_time == T0


def test_ground_truth_is_one_object_per_flush_and_the_latest_label_wins(s3):
    times = iter([T0, T0 + timedelta(seconds=1)])
    sink = S3GroundTruthSink(s3, BUCKET, "ground-truth/", clock=lambda: next(times))
    sink.flush()  # nothing written: nothing stored
    assert keys(s3) == []
    sink.write(ground_truth_record("req-1", "610910"))
    sink.write(ground_truth_record("req-2:0", "080810"))
    sink.flush()
    sink.write(ground_truth_record("req-1", "610990"))  # a correction
    sink.flush()
    stored = keys(s3, "ground-truth/")
    assert len(stored) == 2
    assert stored[0].startswith("ground-truth/2026/12/01/20/59-59-999-") and stored[0].endswith(".jsonl")
    assert [json.loads(line) for line in s3.get_object(Bucket=BUCKET, Key=stored[0])["Body"].read().splitlines()
            ] == [ground_truth_record("req-1", "610910"), ground_truth_record("req-2:0", "080810")]
    assert read_ground_truth_s3(f"s3://{BUCKET}/ground-truth/", client=s3) == {"req-1": "610990", "req-2:0": "080810"}
    assert sink.labels(["req-1"]) is None  # S3 cannot tell cheaply: no duplicate check against the store


def test_a_failed_ground_truth_put_raises_and_keeps_nothing_for_later(s3):
    sink = S3GroundTruthSink(s3, "no-such-bucket")
    sink.write(ground_truth_record("req-1", "610910"))
    with pytest.raises(Exception, match="NoSuchBucket"):
        sink.flush()
    sink.bucket = BUCKET
    sink.flush()  # the refused record is not stored later behind the broker's back
    assert keys(s3) == []


@pytest.mark.parametrize("uri, expected", [("s3://b/capture", ("b", "capture/")), ("s3://b/a/b/", ("b", "a/b/")),
                                           ("s3://b", ("b", "")), ("s3://b/", ("b", ""))])
def test_s3_uris(uri, expected):
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["capture/", "s3:///x", "https://b/x"])
def test_a_non_s3_uri_is_refused(uri):
    with pytest.raises(ValueError, match="not an S3 URI"):
        split_s3_uri(uri)


def test_prefixes_become_folders():
    assert [folder(p) for p in ("capture", "/capture/", "", "a/b")] == ["capture/", "capture/", "", "a/b/"]
