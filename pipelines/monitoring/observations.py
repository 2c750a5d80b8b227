"""Captured predictions joined with broker ground truth: one Observation per captured row, for the A/B analysis.

The join key is the row inference id (pipelines/serving/capture.py: a one-row request's id, `<id>:<i>` for row i
of several); ground truth is the latest label per id (corrections win). A line that is not a record (a truncated
write, a half-copied file) is counted and reported, never fatal. What the analysis cannot be right about is
refused with UsageError (exit 2): a plan variant with no capture, capture variants the plan does not name, and
ground-truth codes that are not HS 2022 subheadings.

stdlib + steps/ + pipelines.serving.{capture,feedback} only: the monitoring pipeline's Processing job ships this
module in its code bundle (pipelines/monitoring/pipeline.py: JOB_EXTRA_FILES).
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipelines.serving.capture import capture_files, parse_capture_line
from pipelines.serving.feedback import ground_truth_files
from steps.hsml.ab_analysis import Observation
from steps.hsml.cli_errors import UsageError
from steps.hsml.hs_codes import HSCodeNormalizer

SHOWN = 5  # examples quoted in a message


@dataclass
class ObservationSet:
    """The observations and what was read to get them (the `inputs` of a recorded look)."""

    observations: list[Observation]
    requests: Counter = field(default_factory=Counter)  # variant -> captured requests read
    rows: Counter = field(default_factory=Counter)  # variant -> captured rows
    labels: int = 0  # distinct labelled row ids in the ground truth
    joined: int = 0  # captured rows that have a label
    bad_capture_lines: list[str] = field(default_factory=list)  # "<file> line <n>: <why>"
    bad_ground_truth_lines: list[str] = field(default_factory=list)
    files: int = 0

    def summary(self) -> dict:
        return {"requests": dict(sorted(self.requests.items())), "rows": dict(sorted(self.rows.items())),
                "labels": self.labels, "joined": self.joined, "capture_files": self.files,
                "bad_capture_lines": len(self.bad_capture_lines),
                "bad_ground_truth_lines": len(self.bad_ground_truth_lines),
                "bad_line_examples": (self.bad_capture_lines + self.bad_ground_truth_lines)[:SHOWN]}


def read_labels(ground_truth_root: str | Path, bad_lines: list[str]) -> dict[str, str]:
    """Row inference id -> its latest label; lines that are not records are appended to `bad_lines`."""
    labels: dict[str, str] = {}
    for path in ground_truth_files(ground_truth_root):
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                row_id, code = record["eventMetadata"]["eventId"], record["groundTruthData"]["data"]
                if not isinstance(row_id, str) or not isinstance(code, str):
                    raise TypeError("eventId and data must be strings")
            except (ValueError, KeyError, TypeError) as error:
                bad_lines.append(f"{path} line {number}: {type(error).__name__}: {error}")
                continue
            labels[row_id] = code
    return labels


def check_labels(labels: Mapping[str, str], valid_codes: Iterable[str]) -> None:
    """UsageError naming the ids and codes that are not 6-digit HS 2022 subheadings (with a "did you mean")."""
    normalizer = HSCodeNormalizer(set(valid_codes))
    bad = [(row_id, code) for row_id, code in labels.items() if code not in normalizer.valid_codes]
    if not bad:
        return
    examples = []
    for row_id, code in bad[:SHOWN]:
        outcome = normalizer.normalize(code)
        hint = outcome.detail or (f"written as {outcome.code}" if outcome.code else "not a subheading")
        examples.append(f"{row_id}: {code!r} ({hint})")
    raise UsageError(f"ground truth holds {len(bad)} code(s) that are not 6-digit HS 2022 subheadings, e.g. "
                     f"{'; '.join(examples)}; fix or remove those records (hscode feedback writes checked codes)")


def read_observations(capture_root: str | Path, ground_truth_root: str | Path, endpoint: str,
                      variants: Iterable[str], *, valid_codes: Iterable[str] | None = None,
                      since: datetime | None = None, until: datetime | None = None) -> ObservationSet:
    """Every captured row of `endpoint` (inference time in [since, until)) as an Observation, labelled when the
    ground truth has its id. `variants`: the plan's; `valid_codes`: HS 2022 subheadings (None: not checked)."""
    capture_root, variants = Path(capture_root), sorted(set(variants))
    endpoint_dir = capture_root / endpoint
    captured = sorted(p.name for p in endpoint_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if endpoint_dir.is_dir() else []
    if not captured:
        raise UsageError(f"no capture for endpoint {endpoint!r} under {capture_root} (expected "
                         f"{endpoint_dir}/<variant>/yyyy/mm/dd/hh/*.jsonl): is --capture the capture root?")
    unknown = [name for name in captured if name not in variants]
    if unknown:
        raise UsageError(f"capture and plan disagree on variant names: the capture of {endpoint} has "
                         f"{', '.join(captured)}, the plan names {', '.join(variants)} ({', '.join(unknown)} not in "
                         "the plan); was the capture written by another experiment's endpoint?")
    missing = [name for name in variants if name not in captured]
    if missing:
        raise UsageError(f"variant {', '.join(missing)} of the plan has no capture under {endpoint_dir}: is it served "
                         "(hscode serve --challenger ..., weights from `hscode ab start`)?")

    result = ObservationSet(observations=[])
    labels = read_labels(ground_truth_root, result.bad_ground_truth_lines)
    if valid_codes is not None:
        check_labels(labels, valid_codes)
    result.labels = len(labels)
    for _, variant, path in capture_files(capture_root, endpoint, since=since, until=until):
        result.files += 1
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                request = parse_capture_line(line, endpoint, variant)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                result.bad_capture_lines.append(f"{path} line {number}: {type(error).__name__}: {error}")
                continue
            if (since and request.inference_time < since) or (until and request.inference_time >= until):
                continue
            result.requests[variant] += 1
            for row_id, _, entry in request.rows():
                result.rows[variant] += 1
                label = labels.get(row_id)
                result.joined += label is not None
                result.observations.append(Observation(
                    variant=variant, row_id=row_id, inference_time=request.inference_time,
                    predicted=top_code(entry), label=label, latency_ms=_latency(request.latency_ms),
                    error=_error(entry)))
    return result


def top_code(entry) -> str | None:
    """The top-1 HS6 of a prediction entry; None for an error entry or a missing one."""
    if not isinstance(entry, dict) or "error" in entry:
        return None
    codes = entry.get("codes")
    return codes[0] if isinstance(codes, list) and codes and isinstance(codes[0], str) else None


def _error(entry) -> bool:
    """An error entry, or no entry at all for a captured row (the answer had fewer entries than rows)."""
    return not isinstance(entry, dict) or "error" in entry


def _latency(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
