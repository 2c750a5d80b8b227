"""Capture and ground truth in S3: the same records and layout as the local sinks (capture.py, feedback.py).

    s3://<bucket>/<capture prefix><endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid8>.jsonl
    s3://<bucket>/<ground-truth prefix>yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid8>.jsonl

Why put_object, one object per invocation, and not Kinesis Data Firehose:
- Nothing is lost when Lambda freezes or recycles the environment: the router stores the request's record before
  it answers (a zip function gets no shutdown signal, so a buffer kept across invocations could vanish).
- The layout and file names are exactly SageMaker's and the local server's, so one reader serves both; Firehose
  names its own files and files them by arrival time, not by the record's inferenceTime.
- No delivery stream, stream role or extra KMS grant to run. The cost is one S3 PUT per request (about $5 per
  million requests) plus ~20 ms of latency; Firehose bills each record as at least 5 KB (~$0.15 per million) and
  writes fewer, larger files. Past tens of millions of requests a month, a Firehose sink behind the same
  CaptureSink interface is the cheaper choice.

stdlib + boto3 only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from pipelines.serving.capture import BufferedCaptureSink, CapturedRequest, FileNamer, parse_capture_lines
from pipelines.serving.feedback import GroundTruthSink, ground_truth_prefix, parse_ground_truth_lines


JSON_LINES = "application/jsonlines"
_HOUR_CHARS = len("yyyy/mm/dd/hh")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix/"); the prefix always ends in "/" (or is empty)."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(f"{uri!r} is not an S3 URI: expected s3://<bucket>/<prefix>")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, folder(prefix)


def folder(prefix: str) -> str:
    """A key prefix as a folder: "capture" -> "capture/", "" stays "" (the bucket's root)."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class S3CaptureSink(BufferedCaptureSink):
    """Capture files in S3. No timer thread: the Lambda handler flushes at the end of every invocation."""

    def __init__(self, client, bucket: str, prefix: str = "capture/", max_pending: int = 10_000):
        self.client, self.bucket, self.prefix = client, bucket, folder(prefix)
        super().__init__(flush_interval_s=None, max_pending=max_pending)

    def _put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}{key}", Body=data, ContentType=JSON_LINES)


class S3GroundTruthSink(GroundTruthSink):
    """Ground-truth files in S3, one object per flush (per feedback request). A failed put raises, so the
    feedback is not acknowledged; its records are dropped here, because the client is told to send them again."""

    def __init__(self, client, bucket: str, prefix: str = "ground-truth/",
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.client, self.bucket, self.prefix = client, bucket, folder(prefix)
        self._clock = clock  # the file's hour and name
        self._namer = FileNamer()  # this writer's later files sort after its earlier ones: the latest label wins
        self._pending: list[dict] = []

    def write(self, record: dict) -> None:
        self._pending.append(record)

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        now = self._clock()
        folder = f"{self.prefix}{ground_truth_prefix(now)}"
        key = f"{folder}/{self._namer.name(now, folder)}"
        data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in batch)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data.encode("utf-8"), ContentType=JSON_LINES)


def _client(client):
    if client is not None:
        return client
    import boto3

    return boto3.client("s3")


def _children(client, bucket: str, prefix: str, only: str | None) -> list[str]:
    """The "folder" names right under prefix (or just `only`)."""
    if only is not None:
        return [only]
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        names += [p["Prefix"][len(prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
    return sorted(names)


def _hour_of(relative_key: str) -> datetime | None:
    try:
        return datetime.strptime(relative_key[:_HOUR_CHARS], "%Y/%m/%d/%H").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _as_utc(when: datetime | None) -> datetime | None:
    return None if when is None else when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _hour_keys(client, bucket: str, base: str, since: datetime | None, until: datetime | None) -> Iterator[str]:
    """Keys of the .jsonl files under base/yyyy/mm/dd/hh/ for hours that can hold [since, until), in time order.

    S3 lists keys in lexicographic order, which this layout makes chronological: the listing starts at the hour of
    `since` and stops at the first hour at or after `until`, whatever the size of the history around it.
    """
    floor = since.replace(minute=0, second=0, microsecond=0) if since else None
    start = {"StartAfter": f"{base}{floor:%Y/%m/%d/%H}"} if floor else {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, **start):
        for item in page.get("Contents", []):
            key = item["Key"]
            hour = _hour_of(key[len(base):])
            if hour is None or not key.endswith(".jsonl") or key.rsplit("/", 1)[-1].startswith("."):
                continue
            if until and hour >= until:
                return
            if floor and hour < floor:
                continue
            yield key


def _lines(client, bucket: str, key: str) -> list[str]:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8").splitlines()


def read_capture_s3(root: str, endpoint: str | None = None, variant: str | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    client=None) -> Iterator[CapturedRequest]:
    """capture.read_capture for s3://bucket/prefix: every captured request (inference time in [since, until))."""
    client = _client(client)
    bucket, prefix = split_s3_uri(root)
    since, until = _as_utc(since), _as_utc(until)
    for endpoint_name in _children(client, bucket, prefix, endpoint):
        for variant_name in _children(client, bucket, f"{prefix}{endpoint_name}/", variant):
            base = f"{prefix}{endpoint_name}/{variant_name}/"
            for key in _hour_keys(client, bucket, base, since, until):
                yield from parse_capture_lines(_lines(client, bucket, key), f"s3://{bucket}/{key}", endpoint_name,
                                               variant_name, since, until)


def iter_ground_truth_s3(root: str, client=None) -> Iterator[tuple[str, str]]:
    """feedback.iter_ground_truth for s3://bucket/prefix: (row inference id, hs6), oldest first."""
    client = _client(client)
    bucket, prefix = split_s3_uri(root)
    for key in _hour_keys(client, bucket, prefix, None, None):
        yield from parse_ground_truth_lines(_lines(client, bucket, key), f"s3://{bucket}/{key}")


def read_ground_truth_s3(root: str, client=None) -> dict[str, str]:
    """Row inference id -> its latest label."""
    return dict(iter_ground_truth_s3(root, client))
