"""Evaluation: score a trained model on the held-out test split; write evaluation.json, lineage.json and plots.

The body of the pipeline's Evaluate step (steps/evaluate.py) and of `hscode evaluate`.

- evaluation.json is in SageMaker's model-quality format; HS6 top-1 accuracy is at
  multiclass_classification_metrics.accuracy.value, which the pipeline's quality gate reads (see
  steps/hsml/metrics.py for the other keys).
- lineage.json says what was evaluated: {"model_sha256": hex sha256 of the model.tar.gz given (null for an
  extracted model dir), "test_rows": rows scored}. The pipeline reads model_sha256 with a JsonGet for the
  registry's checksum.
- A test row that cannot be scored (a malformed hs_code) is left out with its own message; the other rows
  are scored.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from steps.hsml import metrics, plots
from steps.hsml.cli_errors import UsageError
from steps.hsml.hashing import sha256_file
from steps.hsml.hs_codes import load_hs_descriptions
from steps.hsml.prepared import read_split

EVALUATION_FILE = "evaluation.json"
LINEAGE_FILE = "lineage.json"
CONFUSION_PLOT = "chapter_confusion.png"
PER_CHAPTER_PLOT = "per_chapter_accuracy.png"
COVERAGE_PLOT = "coverage_curve.png"
TOP_K = 5
BATCH_SIZE = 512


@dataclass
class TestRows:
    descriptions: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one message per row left out


def read_test_rows(location: str | Path) -> TestRows:
    """(raw descriptions, 6-digit codes) of test.csv (a file, or the folder holding it); codes kept as strings
    so "010121" keeps its zero, and a short one ("10121", as a spreadsheet saves it) gets it back."""
    frame = read_split(location, "test")
    rows = TestRows()
    for line, (description, code) in enumerate(zip(frame["description"], frame["hs_code"].str.strip()), start=2):
        if not code.isdigit() or len(code) > 6:
            rows.problems.append(f"test.csv line {line}: hs_code {code!r} is not a 6-digit HS code; row left out")
            continue
        rows.descriptions.append(description)
        rows.codes.append(code.zfill(6))
    if not rows.codes:
        raise UsageError(f"{location}: no test row to score ({len(rows.problems)} left out); "
                         "the test split is empty or none of its codes is a 6-digit HS code")
    return rows


def load_chapter_names(reference_dir: str | Path | None, log: Callable[[str], None] = print) -> dict[str, str]:
    """{"61": "Apparel and clothing accessories; knitted or crocheted", ...} from the HS 2022 nomenclature."""
    if reference_dir is None:
        return {}
    try:
        return load_hs_descriptions(reference_dir, level="2")
    except UsageError as missing:  # no nomenclature at hand: numbers still identify chapters
        log(f"[evaluate] note: {missing}; chapters will be shown by number only")
        return {}


def find_model(model_dir: str | Path) -> Path:
    """The model.tar.gz in model_dir, or model_dir itself when it already is an extracted model (or the tarball)."""
    path = Path(model_dir)
    if path.is_file():
        return path
    if (path / "model.tar.gz").exists():
        return path / "model.tar.gz"
    if (path / "metadata.json").exists():
        return path
    raise UsageError(f"{path}: neither model.tar.gz nor an extracted model dir (metadata.json); "
                     "point --model-dir at the training job's output")


def predict_in_batches(
    predictor, descriptions: Sequence[str], k: int = TOP_K, batch_size: int = BATCH_SIZE,
    log: Callable[[str], None] = print,
) -> list:
    predictions: list = []
    for start in range(0, len(descriptions), batch_size):
        predictions.extend(predictor.predict(list(descriptions[start : start + batch_size]), k))
        log(f"[evaluate] predicted {len(predictions)}/{len(descriptions)} rows")
    return predictions


def evaluate_predictor(
    predictor, descriptions: Sequence[str], codes: Sequence[str], *, chapter_names: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """The evaluation report (evaluation.json's content) of any object with .predict(descriptions, k) and .metadata.
    A row the predictor cannot classify (it returns no code) counts as wrong."""
    predictions = predict_in_batches(predictor, descriptions, log=log)
    known_labels = (getattr(predictor, "metadata", None) or {}).get("labels")
    if known_labels is None:
        log("[evaluate] note: model metadata has no 'labels'; cannot tell unseen test labels apart")
    return metrics.model_quality_report(codes, predictions, known_labels=known_labels, chapter_names=chapter_names)


def lineage(model_path: str | Path, test_rows: int) -> dict:
    """What was evaluated: the model archive's content hash (None for an extracted dir) and the rows scored."""
    model_path = Path(model_path)
    return {"model_sha256": sha256_file(model_path) if model_path.is_file() else None, "test_rows": test_rows}


def write_evaluation(report: dict, output_dir: str | Path, lineage_record: dict | None = None) -> dict[str, Path]:
    """evaluation.json, lineage.json (when given) and the three PNG plots; returns what was written."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = {"evaluation": output_dir / EVALUATION_FILE}
    written["evaluation"].write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
    if lineage_record is not None:
        written["lineage"] = output_dir / LINEAGE_FILE
        written["lineage"].write_text(json.dumps(lineage_record, indent=2), encoding="utf-8")
    details = report["hs_code_evaluation"]
    confusion = report["multiclass_classification_metrics"]["confusion_matrix"]
    labels, matrix = _dense_confusion(confusion)
    written["confusion"] = plots.plot_chapter_confusion(labels, matrix, output_dir / CONFUSION_PLOT)
    written["per_chapter"] = plots.plot_per_chapter_accuracy(details["per_chapter"], output_dir / PER_CHAPTER_PLOT)
    written["coverage"] = plots.plot_coverage_curve(
        details["coverage_curve"], details["operating_points"], output_dir / COVERAGE_PLOT
    )
    return written


def _dense_confusion(sparse: dict[str, dict[str, int]]):
    import numpy as np

    labels = sorted(set(sparse) | {p for row in sparse.values() for p in row})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, row in sparse.items():
        for p, count in row.items():
            matrix[index[t], index[p]] = count
    return labels, matrix


def summary_lines(report: dict) -> list[str]:
    m = report["multiclass_classification_metrics"]
    d = report["hs_code_evaluation"]

    def v(name: str) -> str:
        return f"{m[name]['value']:.1%}" if name in m else "n/a"

    lines = [
        f"rows={d['rows']} classes={d['classes_in_test']} unseen-label rows={d['unseen_label_rows']} "
        f"({v('unseen_label_rate')}, counted as errors)",
        "        top-1    top-3    top-5",
    ]
    for level in (2, 4, 6):
        lines.append(f"HS{level}   " + "  ".join(f"{v(f'hs{level}_top{k}_accuracy'):>7}" for k in (1, 3, 5)))
    lines.append(f"HS6 macro F1 {v('macro_f1')}, weighted F1 {v('weighted_f1')}")
    for point in d["operating_points"]:
        target = f"{point['target_accuracy']:.0%}"
        if point["threshold"] is None:
            lines.append(f"accuracy >= {target}: not reached at any threshold")
        else:
            lines.append(f"accuracy >= {target}: threshold {point['threshold']:.2f} auto-accepts "
                         f"{point['coverage']:.1%} of rows ({point['accuracy']:.1%} right)")
    return lines


def run(model_dir, test_dir, reference_dir, output_dir, log: Callable[[str], None] = print) -> dict:
    """Find the model and test.csv, score, write everything into output_dir; returns the report."""
    from steps.hsml.predictor import load_predictor  # TensorFlow only when a real model is scored

    started = time.perf_counter()
    model_path = find_model(model_dir)
    log(f"[evaluate] model {model_path}")
    log(f"[evaluate] test split {test_dir}")
    rows = read_test_rows(test_dir)
    for problem in rows.problems:
        log(f"[evaluate] {problem}")
    log(f"[evaluate] {len(rows.codes)} test rows, {len(set(rows.codes))} HS6 codes; loading model")
    predictor = load_predictor(model_path)
    report = evaluate_predictor(predictor, rows.descriptions, rows.codes,
                                chapter_names=load_chapter_names(reference_dir, log), log=log)
    report["hs_code_evaluation"]["rows_left_out"] = len(rows.problems)
    written = write_evaluation(report, output_dir, lineage(model_path, len(rows.codes)))
    for line in summary_lines(report):
        log(f"[evaluate] {line}")
    log(f"[evaluate] wrote {', '.join(p.name for p in written.values())} to {Path(output_dir)} "
        f"in {time.perf_counter() - started:.1f}s")
    return report
