"""A small synthetic experiment on disk: capture as hscode serve writes it, ground truth as /feedback writes it."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipelines.serving.capture import capture_prefix, capture_record
from pipelines.serving.feedback import ground_truth_prefix, ground_truth_record

ENDPOINT = "hs-code"
CODES = ("610910", "940161", "847130", "620342", "420221", "640399")
WHEN = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)  # older than any label window at NOW
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def request_record(row_ids_and_answers, when, latency_ms=4.0, request_id=None):
    """One captured request; `row_ids_and_answers`: [(label code, predicted code or None for an error row)]."""
    descriptions = [f"item {i}" for i in range(len(row_ids_and_answers))]
    predictions = [{"error": "description is empty"} if predicted is None else
                   {"codes": [predicted, "999999"], "probabilities": [0.9, 0.1]}
                   for _, predicted in row_ids_and_answers]
    record = capture_record(request_body=json.dumps({"instances": descriptions}).encode(),
                            request_content_type="application/json",
                            response_body=json.dumps({"predictions": predictions}).encode(),
                            inference_id=request_id, model_version="1", latency_ms=latency_ms or 0.0,
                            when=when)
    if latency_ms is None:
        del record["eventMetadata"]["latencyMs"]
    return record


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_experiment(capture_root: Path, ground_truth_root: Path, *, n: dict[str, int], accuracy: dict[str, float],
                     seed: int = 7, label_share: float = 1.0, when: datetime = WHEN) -> dict[str, str]:
    """n[variant] one-row requests, correct with probability accuracy[variant], all labelled (label_share of
    them); returns the labels written."""
    rng = random.Random(seed)
    labels = {}
    for variant, count in n.items():
        lines = []
        for i in range(count):
            row_id = f"{variant}-{i:05d}"
            truth = rng.choice(CODES)
            predicted = truth if rng.random() < accuracy[variant] else rng.choice([c for c in CODES if c != truth])
            lines.append(json.dumps(request_record([(truth, predicted)], when + timedelta(seconds=i),
                                                   request_id=row_id)))
            if rng.random() < label_share:
                labels[row_id] = truth
        write_lines(capture_root / ENDPOINT / variant / capture_prefix(ENDPOINT, variant, when).split("/", 2)[2]
                    / "00-00-000-abcdef01.jsonl", lines)
    write_labels(ground_truth_root, labels)
    return labels


def write_labels(ground_truth_root: Path, labels: dict[str, str], name: str = "00-00-000-feedback.jsonl") -> None:
    write_lines(ground_truth_root / ground_truth_prefix(WHEN) / name,
                [json.dumps(ground_truth_record(row_id, code)) for row_id, code in labels.items()])
