"""Request capture in SageMaker's data-capture format: one JSON line per request/response pair.

Record: {"captureData": {"endpointInput": {"observedContentType", "mode": "INPUT", "data", "encoding"},
"endpointOutput": {... "mode": "OUTPUT" ...}}, "eventMetadata": {"eventId", "inferenceId", "inferenceTime",
"modelVersion", "latencyMs"}, "eventVersion": "0"}; the last two metadata keys are ours.
Layout (SageMaker's): <root>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid8>.jsonl, UTC, the hour of
the records' inferenceTime. A file is written once, whole (renamed into place locally), and never appended to.

Per-row ids: a one-row request's row id is the request's inference id (SageMaker's convention: ground truth joins
on it); row i of an n-row request is "<request id>:<i>". Clients may not send ids with ":" (the front end refuses).

Writes are buffered in memory and flushed by a timer thread, when `max_pending` records wait (synchronously, in
the writer: bounded memory, nothing dropped) and on close(). A failing store never raises into a request: the
records are counted as failed and logged.

stdlib + boto3 only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from steps.hsml.serving.inference import parse_descriptions

log = logging.getLogger(__name__)

JSON_CONTENT_TYPES = ("application/json", "application/jsonlines")
CSV_CONTENT_TYPE = "text/csv"


def row_inference_ids(request_id: str, n: int) -> list[str]:
    """Each row's inference id: the request's own for one row, "<request id>:<i>" for row i of several."""
    return [request_id] if n == 1 else [f"{request_id}:{i}" for i in range(n)]


def split_row_inference_id(row_id: str) -> tuple[str, int]:
    """"abc:3" -> ("abc", 3); a plain id is row 0 of its request."""
    request_id, sep, index = row_id.rpartition(":")
    if sep and index.isdigit():
        return request_id, int(index)
    return row_id, 0


def base_content_type(content_type: str | None) -> str:
    return (content_type or "application/json").split(";")[0].strip().lower()


def format_time(when: datetime) -> str:
    """SageMaker's inferenceTime: 2026-12-01T20:00:00.123Z (UTC, milliseconds)."""
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _payload(body: bytes, content_type: str | None) -> tuple[str, str]:
    """(data, encoding) as SageMaker captures a body: JSON and CSV as text, anything else base64."""
    kind = base_content_type(content_type)
    encoding = "JSON" if kind in JSON_CONTENT_TYPES else "CSV" if kind == CSV_CONTENT_TYPE else "BASE64"
    if encoding != "BASE64":
        try:
            return body.decode("utf-8"), encoding
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), "BASE64"


def _body(data: str, encoding: str) -> bytes:
    return base64.b64decode(data) if encoding == "BASE64" else data.encode("utf-8")


def capture_record(*, request_body: bytes, request_content_type: str | None, response_body: bytes,
                   inference_id: str, model_version: str, latency_ms: float, when: datetime | None = None,
                   response_content_type: str = "application/json", event_id: str | None = None) -> dict:
    """One request/response pair as a data-capture record."""
    in_data, in_encoding = _payload(request_body, request_content_type)
    out_data, out_encoding = _payload(response_body, response_content_type)
    return {
        "captureData": {
            "endpointInput": {"observedContentType": request_content_type or "application/json", "mode": "INPUT",
                              "data": in_data, "encoding": in_encoding},
            "endpointOutput": {"observedContentType": response_content_type, "mode": "OUTPUT",
                               "data": out_data, "encoding": out_encoding},
        },
        "eventMetadata": {"eventId": event_id or str(uuid.uuid4()), "inferenceId": inference_id,
                          "inferenceTime": format_time(when or datetime.now(timezone.utc)),
                          "modelVersion": model_version, "latencyMs": round(latency_ms, 3)},
        "eventVersion": "0",
    }


def capture_prefix(endpoint: str, variant: str, when: datetime) -> str:
    """<endpoint>/<variant>/yyyy/mm/dd/hh (UTC)."""
    return f"{endpoint}/{variant}/{when.astimezone(timezone.utc):%Y/%m/%d/%H}"


def hour_file_name(when: datetime, stamp: int | None = None) -> str:
    """<mm>-<ss>-<mmm>-<uuid8>.jsonl: SageMaker's file names inside an hour folder (`stamp`: the millisecond of
    the hour to name it by, default `when`'s)."""
    if stamp is None:
        stamp = _millisecond_of_hour(when)
    minutes, rest = divmod(stamp, 60_000)
    return f"{minutes:02d}-{rest // 1000:02d}-{rest % 1000:03d}-{uuid.uuid4().hex[:8]}.jsonl"


def _millisecond_of_hour(when: datetime) -> int:
    when = when.astimezone(timezone.utc)
    return (when.minute * 60 + when.second) * 1000 + when.microsecond // 1000


class FileNamer:
    """hour_file_name for one writer, in write order: readers take files in name order ("the latest label
    wins"), so two files it writes into one folder within the same millisecond get consecutive milliseconds,
    never a random (uuid) order."""

    def __init__(self):
        self._last: dict[str, int] = {}  # folder -> the last millisecond of the hour named by
        self._lock = threading.Lock()

    def name(self, when: datetime, folder: str) -> str:
        stamp = _millisecond_of_hour(when)
        with self._lock:
            last = self._last.pop(folder, -1)
            if stamp <= last < 3_599_999:
                stamp = last + 1
            self._last[folder] = max(stamp, last)
            while len(self._last) > 100:  # past hours are not written again
                del self._last[next(iter(self._last))]
        return hour_file_name(when, stamp)


def write_file_atomically(path: Path, data: bytes) -> None:
    """Readers never see half a file: write beside it under a dot name, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class CaptureSink(ABC):
    """Where capture records go. write() never raises: a record that cannot be stored is counted as failed."""

    @abstractmethod
    def write(self, record: dict, endpoint: str, variant: str) -> None: ...

    @abstractmethod
    def flush(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def stats(self) -> dict[str, int]:
        """{"written", "failed", "pending"} record counts."""


class BufferedCaptureSink(CaptureSink):
    """The buffering, grouping into hour files and counting; subclasses store one file: `_put(key, data)`.

    `flush_interval_s=None` starts no timer thread (a Lambda, frozen between invocations, flushes itself).
    """

    def __init__(self, flush_interval_s: float | None = 1.0, max_pending: int = 10_000):
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self._pending: list[tuple[str, str, str, str]] = []  # (endpoint, variant, inferenceTime, JSON line)
        self._lock = threading.Lock()  # guards _pending and the counters
        self._flush_lock = threading.Lock()  # one flush at a time, so files keep the order of writes
        self._written = self._failed = self._in_flight = 0
        self._closed = False
        self._namer = FileNamer()
        self._stop = threading.Event()
        self._thread = None
        if flush_interval_s:
            self._thread = threading.Thread(target=self._flush_every, args=(flush_interval_s,),
                                            name=f"{type(self).__name__}-flush", daemon=True)
            self._thread.start()

    @abstractmethod
    def _put(self, key: str, data: bytes) -> None:
        """Store one file, key <endpoint>/<variant>/yyyy/mm/dd/hh/<name>.jsonl; raise on failure."""

    def write(self, record: dict, endpoint: str, variant: str) -> None:
        try:
            line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
            inference_time = record["eventMetadata"]["inferenceTime"]
        except Exception:
            log.exception("capture record for %s/%s cannot be serialised; not captured", endpoint, variant)
            with self._lock:
                self._failed += 1
            return
        with self._lock:
            self._pending.append((endpoint, variant, inference_time, line))
            must_flush = len(self._pending) >= self.max_pending or self._closed
        if must_flush:
            self.flush()

    def flush(self) -> None:
        with self._flush_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                self._in_flight = len(batch)
            try:
                for key, lines in self._group(batch).items():
                    self._store(key, lines)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _group(self, batch: list[tuple[str, str, str, str]]) -> dict[str, list[str]]:
        """File key -> its lines, one file per (endpoint, variant, hour), in the order written."""
        groups: dict[tuple[str, str, str], tuple[str, list[str]]] = {}
        for endpoint, variant, inference_time, line in batch:
            try:
                when = parse_time(inference_time)
            except (TypeError, ValueError):
                log.error("capture record with inferenceTime %r cannot be filed; not captured", inference_time)
                with self._lock:
                    self._failed += 1
                continue
            prefix = capture_prefix(endpoint, variant, when)
            if prefix not in groups:
                groups[prefix] = (f"{prefix}/{self._namer.name(when, prefix)}", [])
            groups[prefix][1].append(line)
        return dict(groups.values())

    def _store(self, key: str, lines: list[str]) -> None:
        try:
            self._put(key, ("\n".join(lines) + "\n").encode("utf-8"))
        except Exception:
            log.exception("capture: %d records for %s could not be stored", len(lines), key)
            with self._lock:
                self._failed += len(lines)
        else:
            with self._lock:
                self._written += len(lines)

    def _flush_every(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except Exception:  # the thread must outlive any bug in one flush
                log.exception("capture flush failed")

    def close(self) -> None:
        """Stop the timer and store everything pending; later writes are stored at once."""
        with self._lock:
            self._closed = True
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"written": self._written, "failed": self._failed,
                    "pending": len(self._pending) + self._in_flight}


class LocalCaptureSink(BufferedCaptureSink):
    """Capture files under a local folder, laid out as SageMaker lays them out in S3."""

    def __init__(self, root: str | Path, flush_interval_s: float | None = 1.0, max_pending: int = 10_000):
        self.root = Path(root)
        super().__init__(flush_interval_s=flush_interval_s, max_pending=max_pending)

    def _put(self, key: str, data: bytes) -> None:
        write_file_atomically(self.root / key, data)


@dataclass
class CapturedRequest:
    """One captured request/response pair, read back."""

    endpoint: str
    variant: str
    request_id: str
    inference_time: datetime
    content_type: str
    descriptions: list
    predictions: list
    model_version: str | None = None
    latency_ms: float | None = None
    row_ids: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[str, object, dict | None]]:
        """(row inference id, description as sent, its prediction entry) for each row."""
        for i, row_id in enumerate(self.row_ids):
            description = self.descriptions[i] if i < len(self.descriptions) else None
            prediction = self.predictions[i] if i < len(self.predictions) else None
            yield row_id, description, prediction


def parse_capture_line(line: str, endpoint: str, variant: str) -> CapturedRequest:
    """A capture JSON line -> CapturedRequest; ValueError/KeyError/TypeError for a line that is not one."""
    record = json.loads(line)
    metadata = record["eventMetadata"]
    request = record["captureData"]["endpointInput"]
    response = record["captureData"]["endpointOutput"]
    content_type = request.get("observedContentType") or "application/json"
    try:
        descriptions = parse_descriptions(_body(request["data"], request["encoding"]), base_content_type(content_type))
    except ValueError:
        descriptions = []  # a body the front end read once; if this reader cannot, keep the record's metadata
    answer = json.loads(_body(response["data"], response["encoding"]))
    predictions = answer.get("predictions", []) if isinstance(answer, dict) else []
    request_id = metadata["inferenceId"]
    row_ids = row_inference_ids(request_id, len(predictions) or len(descriptions))
    for i, entry in enumerate(predictions):
        if isinstance(entry, dict) and isinstance(entry.get("inference_id"), str):
            row_ids[i] = entry["inference_id"]
    return CapturedRequest(endpoint=endpoint, variant=variant, request_id=request_id,
                           inference_time=parse_time(metadata["inferenceTime"]), content_type=content_type,
                           descriptions=descriptions, predictions=predictions,
                           model_version=metadata.get("modelVersion"), latency_ms=metadata.get("latencyMs"),
                           row_ids=row_ids)


def _as_utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def capture_files(root: str | Path, endpoint: str | None = None, variant: str | None = None,
                  since: datetime | None = None, until: datetime | None = None
                  ) -> Iterator[tuple[str, str, Path]]:
    """(endpoint, variant, path) of each capture file, in time order per variant; hour folders outside
    [since, until) are skipped without being opened."""
    root = Path(root)
    since, until = _as_utc(since), _as_utc(until)
    floor = since.replace(minute=0, second=0, microsecond=0) if since else None
    for endpoint_dir in _subdirs(root, endpoint):
        for variant_dir in _subdirs(endpoint_dir, variant):
            for hour_dir in sorted(variant_dir.glob("[0-9]*/[0-9]*/[0-9]*/[0-9]*")):
                try:
                    hour = datetime.strptime("/".join(hour_dir.parts[-4:]), "%Y/%m/%d/%H").replace(
                        tzinfo=timezone.utc)
                except ValueError:
                    continue
                if (floor and hour < floor) or (until and hour >= until):
                    continue
                for path in sorted(hour_dir.glob("*.jsonl")):
                    if not path.name.startswith("."):
                        yield endpoint_dir.name, variant_dir.name, path


def _subdirs(parent: Path, only: str | None) -> list[Path]:
    if only is not None:
        return [parent / only] if (parent / only).is_dir() else []
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))


def read_capture(root: str | Path, endpoint: str | None = None, variant: str | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Iterator[CapturedRequest]:
    """Every captured request under `root` (optionally one endpoint/variant, inference time in [since, until))."""
    for endpoint_name, variant_name, path in capture_files(root, endpoint, variant, since, until):
        yield from parse_capture_lines(path.read_text(encoding="utf-8").splitlines(), str(path), endpoint_name,
                                       variant_name, since, until)


def parse_capture_lines(lines: Iterable[str], where: str, endpoint: str, variant: str,
                        since: datetime | None = None, until: datetime | None = None) -> Iterator[CapturedRequest]:
    """The captured requests of one file's lines, inference time in [since, until); a line that is not a record
    is logged (with `where` and its number) and skipped. Local and S3 readers share it."""
    since, until = _as_utc(since), _as_utc(until)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            captured = parse_capture_line(line, endpoint, variant)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("%s line %d is not a capture record (%s); skipped", where, number, error)
            continue
        if (since and captured.inference_time < since) or (until and captured.inference_time >= until):
            continue
        yield captured


class CapturedIds:
    """Is a row inference id in the capture files? Reads each file once (files never change once written) and
    looks for new files on a miss, at most once per `rescan_s`."""

    def __init__(self, root: str | Path, endpoint: str | None = None, rescan_s: float = 1.0):
        self.root, self.endpoint, self.rescan_s = Path(root), endpoint, rescan_s
        self._ids: set[str] = set()
        self._seen: set[Path] = set()
        self._scanned_at = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, row_id: str) -> bool:
        with self._lock:
            if row_id not in self._ids and time.monotonic() - self._scanned_at >= self.rescan_s:
                self._scan()
            return row_id in self._ids

    def _scan(self) -> None:
        for endpoint, variant, path in capture_files(self.root, self.endpoint):
            if path in self._seen:
                continue
            self._seen.add(path)
            for captured in parse_capture_lines(path.read_text(encoding="utf-8").splitlines(), str(path),
                                                endpoint, variant):
                self._ids.update(captured.row_ids)
        self._scanned_at = time.monotonic()
