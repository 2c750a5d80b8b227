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
- Precision vs coverage at HS6, HS4 and HS2 (level_coverage.png, one curve a level) and each level's 95 %
  threshold: accept_threshold (HS6, serving's decision), accept_threshold_hs4, accept_threshold_hs2.
- The vague detector, when the model carries one: its false refusals on the test rows, and its recall on the
  held-out vague terms (reference dir's hmrc_vague_terms.csv, the split it never trained on), under
  hs_code_evaluation.vagueness and as vague_* metrics.
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
LEVEL_COVERAGE_PLOT = "level_coverage.png"
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


def predict_levels_in_batches(
    predictor, descriptions: Sequence[str], k: int = TOP_K, batch_size: int = BATCH_SIZE,
    log: Callable[[str], None] = print,
) -> tuple[list, dict[str, list], list[bool] | None]:
    """HS6 top-k, the model's own HS4/HS2 levels ({} when it has none) and each row's vague flag (None without a
    detector), from a Predictor's predict_detailed."""
    predictions: list = []
    levels: dict[str, list] = {"hs4": [], "hs2": []}
    vague: list[bool] = []
    for start in range(0, len(descriptions), batch_size):
        for row in predictor.predict_detailed(list(descriptions[start : start + batch_size]), k):
            predictions.append(row.top_k)
            for level in levels:
                levels[level].append(row.levels.get(level, []))
            vague.append(row.vague)
        log(f"[evaluate] predicted {len(predictions)}/{len(descriptions)} rows")
    has_levels = any(any(rows) for rows in levels.values())
    has_detector = getattr(predictor, "vague_detector", None) is not None
    return predictions, (levels if has_levels else {}), (vague if has_detector else None)


def evaluate_predictor(
    predictor, descriptions: Sequence[str], codes: Sequence[str], *, chapter_names: dict[str, str] | None = None,
    log: Callable[[str], None] = print, vague_terms: Sequence[str] | None = None,
) -> dict:
    """The evaluation report (evaluation.json's content) of any object with .predict(descriptions, k) and .metadata.
    A row the predictor cannot classify (it returns no code) counts as wrong. A Predictor (predict_detailed) also
    gives its own HS4/HS2 levels and, with a vague detector, its false refusals on these rows and its recall on
    `vague_terms` (raw held-out vague descriptions)."""
    level_predictions, vague = None, None
    if hasattr(predictor, "predict_detailed"):
        predictions, level_predictions, vague = predict_levels_in_batches(predictor, descriptions, log=log)
    else:
        predictions = predict_in_batches(predictor, descriptions, log=log)
    known_labels = (getattr(predictor, "metadata", None) or {}).get("labels")
    if known_labels is None:
        log("[evaluate] note: model metadata has no 'labels'; cannot tell unseen test labels apart")
    report = metrics.model_quality_report(codes, predictions, known_labels=known_labels, chapter_names=chapter_names,
                                          level_predictions=level_predictions or None)
    if vague is not None:
        report["hs_code_evaluation"]["vagueness"] = vagueness_report(predictor, vague, vague_terms)
        for name in ("false_refusal_rate", "recall_held_out"):
            value = report["hs_code_evaluation"]["vagueness"][name]
            if value is not None:
                report["multiclass_classification_metrics"][f"vague_{name}"] = {"value": value,
                                                                                "standard_deviation": "NaN"}
    return report


def vagueness_report(predictor, refused: Sequence[bool], vague_terms: Sequence[str] | None) -> dict:
    """The detector's false refusals on the test rows and its recall on the held-out vague terms."""
    from steps.hsml.text import normalize_description
    from steps.hsml.vagueness_training import split_vague_terms

    detector = predictor.vague_detector
    held_out = split_vague_terms(normalize_description(t) for t in vague_terms)[1] if vague_terms else []
    caught = sum(detector.is_vague(t) for t in held_out)
    return {"threshold": detector.threshold, "test_rows": len(refused),
            "false_refusal_rate": sum(refused) / len(refused) if refused else None,
            "held_out_vague_terms": len(held_out),
            "recall_held_out": caught / len(held_out) if held_out else None,
            "fitted": {k: v for k, v in detector.info.items()}}


def load_vague_terms(reference_dir: str | Path | None, log: Callable[[str], None] = print) -> list[str] | None:
    """HMRC's vague terms from the reference dir (the snapshot's reference/), or None when it has none."""
    from steps.hsml.vagueness_training import VAGUE_TERMS_FILE, read_vague_terms

    if reference_dir is None:
        return None
    folder = Path(reference_dir) if Path(reference_dir).is_dir() else Path(reference_dir).parent
    if not (folder / VAGUE_TERMS_FILE).is_file():
        log(f"[evaluate] note: no {VAGUE_TERMS_FILE} in {folder}; the vague detector's recall is not measured")
        return None
    return read_vague_terms(folder / VAGUE_TERMS_FILE)


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
    if "level_coverage_curves" in details:
        written["level_coverage"] = plots.plot_level_coverage(
            details["level_coverage_curves"], details["level_operating_points"], output_dir / LEVEL_COVERAGE_PLOT)
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
    for point in d.get("level_operating_points", []):
        level = point["level"].upper()
        if point["threshold"] is None:
            lines.append(f"{level} precision >= 95%: not reached at any threshold")
        else:
            lines.append(f"{level} precision >= 95%: threshold {point['threshold']:.2f}, coverage {point['coverage']:.1%}")
    answers = d.get("hierarchical_answers")
    if answers:
        shares = ", ".join(f"{level.upper()} {row['share']:.1%}" for level, row in answers["levels"].items())
        precision = "n/a" if answers["precision"] is None else f"{answers['precision']:.1%}"
        lines.append(f"answers at the deepest sure level: {shares}, none {answers['none_share']:.1%}; "
                     f"precision {precision}")
    vagueness = d.get("vagueness")
    if vagueness:
        def share(value):
            return "n/a" if value is None else f"{value:.1%}"
        lines.append(f"vague detector: refuses {share(vagueness['false_refusal_rate'])} of test rows, catches "
                     f"{share(vagueness['recall_held_out'])} of {vagueness['held_out_vague_terms']} held-out vague terms")
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
                                chapter_names=load_chapter_names(reference_dir, log), log=log,
                                vague_terms=load_vague_terms(reference_dir, log))
    report["hs_code_evaluation"]["rows_left_out"] = len(rows.problems)
    written = write_evaluation(report, output_dir, lineage(model_path, len(rows.codes)))
    for line in summary_lines(report):
        log(f"[evaluate] {line}")
    log(f"[evaluate] wrote {', '.join(p.name for p in written.values())} to {Path(output_dir)} "
        f"in {time.perf_counter() - started:.1f}s")
    return report
