"""Broker feedback: the confirmed or corrected HS code of a served row, in SageMaker's ground-truth format.

Record: {"groundTruthData": {"data": "<hs6>", "encoding": "CSV"}, "eventMetadata": {"eventId": "<row inference
id>"}, "eventVersion": "0"}, one JSON line each, under <root>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid8>.jsonl (UTC,
the hour it was recorded). A later record for the same row id is a correction: the latest wins.

Checks (`check_feedback`): the code goes through data preparation's HSCodeNormalizer (same rules, same "did you
mean"); the same row id twice in one request, or already stored with the same code, is a duplicate; a different
code for a stored id is accepted as a correction; an id this deployment never issued is accepted but flagged (unknown_inference_id, and a warning).

stdlib + boto3 only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import csv
import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipelines.serving.capture import FileNamer, read_capture, write_file_atomically
from steps.hsml.hs_codes import HSCodeNormalizer

log = logging.getLogger(__name__)

MAX_INFERENCE_ID_CHARS = 200  # a SageMaker InferenceId is at most 64; ":<row>" is added to it
FEEDBACK_CSV = "feedback.csv"
FEEDBACK_SOURCE = "feedback"


def ground_truth_record(row_inference_id: str, hs6: str) -> dict:
    return {"groundTruthData": {"data": hs6, "encoding": "CSV"}, "eventMetadata": {"eventId": row_inference_id},
            "eventVersion": "0"}


def ground_truth_prefix(when: datetime) -> str:
    return f"{when.astimezone(timezone.utc):%Y/%m/%d/%H}"


class GroundTruthSink(ABC):
    """Where ground-truth records go. Unlike capture, a failure raises: feedback is not acknowledged unless
    stored."""

    @abstractmethod
    def write(self, record: dict) -> None: ...

    @abstractmethod
    def flush(self) -> None:
        """Store everything written so far (one file per hour); raises when it cannot."""

    def close(self) -> None:
        self.flush()

    def labels(self, row_ids: Iterable[str]) -> Mapping[str, str] | None:
        """The stored code of each of these ids that has one; None when this store cannot tell (e.g. S3)."""
        return None


class LocalGroundTruthSink(GroundTruthSink):
    """Ground-truth files under a local folder; keeps an index of stored labels for the duplicate check."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._pending: list[dict] = []
        self._lock = threading.Lock()
        self._index: dict[str, str] = {}
        self._seen: set[Path] = set()
        self._namer = FileNamer()

    def write(self, record: dict) -> None:
        with self._lock:
            self._pending.append(record)

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            now = datetime.now(timezone.utc)
            folder = self.root / ground_truth_prefix(now)
            path = folder / self._namer.name(now, str(folder))
            pending, self._pending = self._pending, []  # stored whole or not at all: the caller is told either way
            lines = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in pending)
            write_file_atomically(path, lines.encode("utf-8"))  # raises: the caller must not acknowledge
            self._seen.add(path)
            for record in pending:
                self._index[record["eventMetadata"]["eventId"]] = record["groundTruthData"]["data"]

    def labels(self, row_ids: Iterable[str]) -> Mapping[str, str]:
        with self._lock:
            for path in ground_truth_files(self.root):  # other writers too (hscode feedback while serving)
                if path not in self._seen:
                    self._seen.add(path)
                    for row_id, code in _read_labels(path):
                        self._index[row_id] = code
            return {row_id: self._index[row_id] for row_id in row_ids if row_id in self._index}


def ground_truth_files(root: str | Path) -> list[Path]:
    """Every ground-truth file under root, oldest first (the layout sorts by time)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("[0-9]*/[0-9]*/[0-9]*/[0-9]*/*.jsonl") if not p.name.startswith("."))


def _read_labels(path: Path) -> Iterator[tuple[str, str]]:
    return parse_ground_truth_lines(path.read_text(encoding="utf-8").splitlines(), str(path))


def parse_ground_truth_lines(lines: Iterable[str], where: str) -> Iterator[tuple[str, str]]:
    """(row inference id, hs6) of one file's lines; a line that is not a record is logged and skipped. Local and
    S3 readers share it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            yield record["eventMetadata"]["eventId"], record["groundTruthData"]["data"]
        except (ValueError, KeyError, TypeError) as error:
            log.warning("%s line %d is not a ground-truth record (%s); skipped", where, number, error)


def iter_ground_truth(root: str | Path) -> Iterator[tuple[str, str]]:
    """(row inference id, hs6) for every stored label, oldest first; corrections follow what they correct."""
    for path in ground_truth_files(root):
        yield from _read_labels(path)


def read_ground_truth(root: str | Path) -> dict[str, str]:
    """Row inference id -> its latest label."""
    return dict(iter_ground_truth(root))


@dataclass
class FeedbackReport:
    """The outcome of each submitted item, in order, and the counts."""

    items: list[dict] = field(default_factory=list)

    def accepted(self) -> list[dict]:
        return [item for item in self.items if item["status"] == "accepted"]

    def counts(self) -> dict[str, int]:
        statuses = [item["status"] for item in self.items]
        return {"submitted": len(self.items), "accepted": statuses.count("accepted"),
                "invalid": statuses.count("invalid"), "duplicate": statuses.count("duplicate"),
                "corrections": sum(bool(item.get("correction")) for item in self.items),
                "unknown_inference_id": sum(bool(item["unknown_inference_id"]) for item in self.items)}

    def to_dict(self) -> dict:
        return {"results": self.items, "counts": self.counts()}


def check_feedback(items: Iterable, normalizer: HSCodeNormalizer, is_known: Callable[[str], bool | None],
                   existing: Mapping[str, str] | None = None) -> FeedbackReport:
    """Check submitted {"inference_id", "hs_code"} items. `existing`: stored labels of these ids, if known."""
    report = FeedbackReport()
    taken: dict[str, str] = dict(existing or {})
    in_request: set[str] = set()
    for item in items:
        report.items.append(_check_item(item, normalizer, is_known, taken, in_request))
    return report


def _check_item(item, normalizer, is_known, taken: dict[str, str], in_request: set[str]) -> dict:
    if not isinstance(item, Mapping):
        return _result(None, None, "invalid", f'expected an object {{"inference_id": ..., "hs_code": ...}}, got '
                       f"{type(item).__name__}")
    row_id, raw_code = item.get("inference_id"), item.get("hs_code")
    problem = _id_problem(row_id)
    if problem:
        return _result(row_id, raw_code, "invalid", problem)
    if isinstance(raw_code, int) and not isinstance(raw_code, bool):
        raw_code = str(raw_code)  # a spreadsheet's number; the normaliser restores a lost leading zero
    if not isinstance(raw_code, str):
        return _result(row_id, raw_code, "invalid",
                       "hs_code is missing" if raw_code is None else "hs_code must be text, e.g. \"610910\"")
    outcome = normalizer.normalize(raw_code)
    if outcome.code is None:
        return _result(row_id, raw_code, "invalid", f"{outcome.detail}; nothing recorded for {row_id}")
    unknown = is_known(row_id) is False
    if row_id in in_request:
        return _result(row_id, outcome.code, "duplicate", f"{row_id} is given more than once in this request; "
                       "the first one counts", unknown)
    in_request.add(row_id)
    previous = taken.get(row_id)
    if previous == outcome.code:
        return _result(row_id, outcome.code, "duplicate", f"{row_id} already has hs_code {previous}", unknown)
    taken[row_id] = outcome.code
    message = f"recorded {outcome.code} for {row_id}"
    if previous is not None:
        message += f" (correcting {previous})"
    return _result(row_id, outcome.code, "accepted", message, unknown, correction=previous is not None)


def _id_problem(row_id) -> str | None:
    if row_id is None:
        return "inference_id is missing"
    if not isinstance(row_id, str) or not row_id.strip():
        return "inference_id must be a non-empty string (the one the prediction answered with)"
    if len(row_id) > MAX_INFERENCE_ID_CHARS or not row_id.isprintable() or row_id != row_id.strip():
        return f"inference_id {row_id[:80]!r} is not one the endpoint issues (printable, at most " \
               f"{MAX_INFERENCE_ID_CHARS} characters, no surrounding spaces)"
    return None


def _result(row_id, hs_code, status: str, message: str, unknown: bool = False, correction: bool = False) -> dict:
    warning = f"inference id {row_id} was never served here (check it); recorded anyway" if unknown else None
    return {"inference_id": row_id, "hs_code": hs_code, "status": status, "unknown_inference_id": unknown,
            "correction": correction, "message": message, "warning": warning}


def export_training_csv(capture_root: str | Path, ground_truth_root: str | Path, out_dir: str | Path,
                        since: datetime | None = None, endpoint: str | None = None) -> tuple[Path, dict]:
    """Join labels with the captured descriptions into out_dir/feedback.csv (description,hs_code,source).

    Counts: labels (distinct row ids), joined (rows written), without_description (ids not in capture, or
    captured before `since`), unusable_description (captured rows that were not text), corrections (ids labelled
    more than once with different codes); `missing_ids` lists a few ids without a description.
    """
    history: dict[str, list[str]] = {}
    for row_id, code in iter_ground_truth(ground_truth_root):
        history.setdefault(row_id, []).append(code)
    labels = {row_id: codes[-1] for row_id, codes in history.items()}
    descriptions: dict[str, object] = {}
    for captured in read_capture(capture_root, endpoint=endpoint, since=since):
        for row_id, description, _ in captured.rows():
            if row_id in labels:
                descriptions[row_id] = description  # an id captured twice: the latest request wins
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FEEDBACK_CSV
    written = unusable = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "hs_code", "source"])
        for row_id, code in labels.items():
            if row_id not in descriptions:
                continue
            description = descriptions[row_id]
            if not isinstance(description, str) or not description.strip():
                unusable += 1
                continue
            writer.writerow([description, code, FEEDBACK_SOURCE])
            written += 1
    missing = [row_id for row_id in labels if row_id not in descriptions]
    counts = {"labels": len(labels), "joined": written, "without_description": len(missing),
              "unusable_description": unusable,
              "corrections": sum(len(set(codes)) > 1 for codes in history.values()), "missing_ids": missing[:10]}
    return path, counts
