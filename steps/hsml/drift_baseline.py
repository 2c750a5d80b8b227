"""The drift baseline that travels with a model: `drift_baseline.json` inside every exported model dir.

Only what can be read from unlabelled traffic (a served model never sees the true code):

    length_chars       characters of the normalised description (steps.hsml.text.normalize_description)
    length_tokens      its tokens (the encoder's whitespace tokenisation, all of them, before max_words)
    oov_rate           share of those tokens absent from the encoder's word vocabulary
    predicted_chapter  the top-1 code's chapter (HS2, its first two digits)
    top1_probability   the top-1 probability

The baseline is built from held-out rows (the validation split, predicted by the exported model after the best
weights are restored), never from training rows: the model is over-confident on what it was fitted on.
Numeric features get fixed bin edges, the held-out data's deciles (ties merged), with open ends: a value below
the first edge or above the last still falls in a bin. The chapter has one category per HS chapter 01..97 plus
"other". The file keeps the held-out rows' feature values too, so drift.calibrate_threshold can bootstrap a
threshold for any window size without the data.

numpy + stdlib only (it runs in the monitoring job and in training).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from steps.hsml.cli_errors import UsageError
from steps.hsml.text import normalize_description, tokenize

BASELINE_FORMAT = "hsml.drift_baseline/1"
BASELINE_FILE = "drift_baseline.json"
FEATURES = ("length_chars", "length_tokens", "oov_rate", "predicted_chapter", "top1_probability")
NUMERIC_FEATURES = ("length_chars", "length_tokens", "oov_rate", "top1_probability")
CATEGORICAL_FEATURES = ("predicted_chapter",)
OTHER = "other"
CHAPTERS = tuple(f"{chapter:02d}" for chapter in range(1, 98)) + (OTHER,)
QUANTILE_BINS = 10


def chapter_of(code) -> str:
    code = str(code)
    return code[:2] if len(code) >= 2 and code[:2] in CHAPTERS[:-1] else OTHER


def row_features(descriptions, predictions, encoder) -> list[dict]:
    """One feature dict per usable row. `predictions` are the serving answer rows, {"codes", "probabilities"}
    (top-k, best first), aligned with `descriptions`; an error row (no codes, an "error" key, or an empty
    normalised text) is skipped."""
    vocabulary = set(encoder.word_vocab)
    rows = []
    for description, prediction in zip(descriptions, predictions):
        if not isinstance(description, str) or not isinstance(prediction, dict) or prediction.get("error"):
            continue
        codes, probabilities = prediction.get("codes") or [], prediction.get("probabilities") or []
        if not codes or not probabilities:
            continue
        text = normalize_description(description)
        tokens = tokenize(text)
        if not tokens:
            continue
        rows.append({
            "length_chars": len(text),
            "length_tokens": len(tokens),
            "oov_rate": sum(token not in vocabulary for token in tokens) / len(tokens),
            "predicted_chapter": chapter_of(codes[0]),
            "top1_probability": float(probabilities[0]),
        })
    return rows


def quantile_edges(values, bins: int = QUANTILE_BINS) -> list[float]:
    """Interior cut points at the held-out data's quantiles, duplicates merged (a value equal to an edge goes to
    the bin above it); bin 0 is open below, the last bin open above."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return []
    cuts = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(x) for x in np.unique(cuts)]


def bin_index(values, edges) -> np.ndarray:
    return np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float), side="right")


def baseline_from_rows(rows: list[dict], *, source: str = "held-out rows") -> dict:
    """The baseline dict from feature rows (row_features' output)."""
    if not rows:
        raise UsageError(f"cannot build a drift baseline from 0 {source}: every row was an error or empty")
    features = {}
    for name in NUMERIC_FEATURES:
        values = [row[name] for row in rows]
        edges = quantile_edges(values)
        counts = np.bincount(bin_index(values, edges), minlength=len(edges) + 1)
        features[name] = {"kind": "numeric", "edges": edges, "counts": counts.tolist(),
                          "distribution": (counts / counts.sum()).tolist()}
    for name in CATEGORICAL_FEATURES:
        index = {category: i for i, category in enumerate(CHAPTERS)}
        counts = np.bincount([index[row[name]] for row in rows], minlength=len(CHAPTERS))
        features[name] = {"kind": "categorical", "categories": list(CHAPTERS), "counts": counts.tolist(),
                          "distribution": (counts / counts.sum()).tolist()}
    return {
        "format": BASELINE_FORMAT,
        "source": source,
        "n": len(rows),
        "features": features,
        "rows": {name: [row[name] for row in rows] for name in FEATURES},
    }


def build_baseline(held_out_descriptions, held_out_predictions, encoder, *, source: str = "held-out rows") -> dict:
    return baseline_from_rows(row_features(held_out_descriptions, held_out_predictions, encoder), source=source)


def write_baseline(baseline: dict, model_dir: str | Path) -> Path:
    path = Path(model_dir) / BASELINE_FILE
    path.write_text(json.dumps(baseline, ensure_ascii=False), encoding="utf-8")
    return path


def load_baseline(model_dir: str | Path) -> dict:
    path = Path(model_dir) / BASELINE_FILE
    if not path.exists():
        raise UsageError(f"model {model_dir} has no drift baseline: retrain it with this version, or write its "
                         f"{BASELINE_FILE} with steps.hsml.drift_baseline.build_baseline on its held-out rows")
    baseline = json.loads(path.read_text(encoding="utf-8"))
    if baseline.get("format") != BASELINE_FORMAT:
        raise UsageError(f"{path}: drift baseline of format {baseline.get('format')!r}, this code reads "
                         f"{BASELINE_FORMAT}: retrain the model with this version")
    return baseline
