"""Evaluation job: scores a trained model on the held-out test split and writes evaluation.json plus plots.

Runs as a SageMaker Processing job (paths below are the container defaults) or locally via `hscode evaluate`:

    python steps/evaluate.py --model-dir DIR_WITH_model.tar.gz --test-dir DIR_WITH_test.csv \
        --reference-dir DIR_WITH_hs2022_nomenclature.csv --output-dir OUT

evaluation.json is in SageMaker's model-quality format; HS6 top-1 accuracy is at
multiclass_classification_metrics.accuracy.value, which the pipeline's quality gate reads (see
steps/hsml/metrics.py for the other keys). The plots land next to it as PNG files.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

if __package__ in (None, ""):  # run as a script inside the container: make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml import metrics, plots  # noqa: E402
from steps.hsml.hs_codes import load_hs_descriptions  # noqa: E402

EVALUATION_FILE = "evaluation.json"
CONFUSION_PLOT = "chapter_confusion.png"
PER_CHAPTER_PLOT = "per_chapter_accuracy.png"
COVERAGE_PLOT = "coverage_curve.png"
TOP_K = 5
BATCH_SIZE = 512


def read_test_split(path: str | Path) -> tuple[list[str], list[str]]:
    """(raw descriptions, 6-digit codes) from test.csv; codes kept as strings so "010121" keeps its zero."""
    descriptions, codes = [], []
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"description", "hs_code"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}; expected the preprocess step's test.csv")
        for line, row in enumerate(reader, start=2):
            code = (row["hs_code"] or "").strip()
            if not code.isdigit() or len(code) > 6:
                raise ValueError(f"{path} line {line}: hs_code {code!r} is not a 6-digit HS code")
            descriptions.append(row["description"] or "")
            codes.append(code.zfill(6))
    if not codes:
        raise ValueError(f"{path}: no rows; the test split is empty")
    return descriptions, codes


def load_chapter_names(reference_dir: str | Path | None) -> dict[str, str]:
    """{"61": "Apparel and clothing accessories; knitted or crocheted", ...} from the HS 2022 nomenclature."""
    if reference_dir is None:
        return {}
    try:
        return load_hs_descriptions(reference_dir, level="2")
    except FileNotFoundError as missing:
        print(f"[evaluate] note: {missing}; chapters will be shown by number only", flush=True)
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
    raise FileNotFoundError(f"{path}: neither model.tar.gz nor an extracted model dir (metadata.json); "
                            "point --model-dir at the training job's output")


def find_test_csv(test_dir: str | Path) -> Path:
    path = Path(test_dir)
    if path.is_file():
        return path
    if (path / "test.csv").exists():
        return path / "test.csv"
    raise FileNotFoundError(f"{path}: no test.csv; point --test-dir at the preprocess step's output")


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
    """The evaluation report (evaluation.json's content) of any object with .predict(descriptions, k) and .metadata."""
    predictions = predict_in_batches(predictor, descriptions, log=log)
    known_labels = (getattr(predictor, "metadata", None) or {}).get("labels")
    if known_labels is None:
        log("[evaluate] note: model metadata has no 'labels'; cannot tell unseen test labels apart")
    return metrics.model_quality_report(codes, predictions, known_labels=known_labels, chapter_names=chapter_names)


def write_evaluation(report: dict, output_dir: str | Path) -> dict[str, Path]:
    """evaluation.json plus the three PNG plots; returns what was written."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = {"evaluation": output_dir / EVALUATION_FILE}
    written["evaluation"].write_text(json.dumps(report, indent=2, allow_nan=False), encoding="utf-8")
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
    from steps.hsml.predictor import load_predictor  # TensorFlow only when a real model is scored

    started = time.perf_counter()
    model_path, test_path = find_model(model_dir), find_test_csv(test_dir)
    log(f"[evaluate] model {model_path}")
    log(f"[evaluate] test split {test_path}")
    descriptions, codes = read_test_split(test_path)
    log(f"[evaluate] {len(codes)} test rows, {len(set(codes))} HS6 codes; loading model")
    predictor = load_predictor(model_path)
    report = evaluate_predictor(predictor, descriptions, codes, chapter_names=load_chapter_names(reference_dir), log=log)
    written = write_evaluation(report, output_dir)
    for line in summary_lines(report):
        log(f"[evaluate] {line}")
    log(f"[evaluate] wrote {', '.join(p.name for p in written.values())} to {Path(output_dir)} "
        f"in {time.perf_counter() - started:.1f}s")
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Evaluate an HS-code model on the test split (SageMaker Processing entry).")
    parser.add_argument("--model-dir", "--model_dir", default="/opt/ml/processing/model",
                        help="dir holding model.tar.gz (or the tarball / an extracted model dir)")
    parser.add_argument("--test-dir", "--test_dir", default="/opt/ml/processing/test",
                        help="dir holding test.csv (or the csv itself)")
    parser.add_argument("--reference-dir", "--reference_dir", default="/opt/ml/processing/input/reference",
                        help="dir holding hs2022_nomenclature.csv (chapter names)")
    parser.add_argument("--output-dir", "--output_dir", default="/opt/ml/processing/evaluation")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run(args.model_dir, args.test_dir, args.reference_dir, args.output_dir,
        log=lambda message: print(message, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
