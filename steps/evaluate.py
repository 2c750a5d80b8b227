"""Evaluation job: SageMaker Processing entry point (the same code runs as `hscode evaluate`).

Scores the model on the test split and writes evaluation.json (SageMaker model-quality format), lineage.json
(the model's sha256, the rows scored) and PNG plots into the output dir; the logic is steps/hsml/evaluation.py.
Two more files, each a PropertyFile of the pipeline:
- generalisation.json: the model on the long-text probes of the same test rows (steps/hsml/generalisation.py):
  HS6/HS4/HS2 top-1 and the share of the commonest predicted code, beside that of the commonest true code;
- comparison.json (with --approved-dir): the group's approved model scored on the same rows, and whether this
  model stays within --max-regression of it (steps/hsml/approved_comparison.py).

    python steps/evaluate.py --model-dir DIR_WITH_model.tar.gz --test-dir DIR_WITH_test.csv \
        --reference-dir DIR_WITH_hs2022_nomenclature.csv --output-dir OUT \
        [--approved-dir DIR_WITH_approved.json --max-regression 0.03]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script inside the container: make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml.cli_errors import run_command  # noqa: E402

PROGRAM = "evaluate.py"
GENERALISATION_FILE = "generalisation.json"


def build_parser() -> argparse.ArgumentParser:
    from steps.hsml.approved_comparison import DEFAULT_MAX_REGRESSION

    parser = argparse.ArgumentParser(prog=PROGRAM,
                                     description="Evaluate an HS-code model on the test split (SageMaker Processing).")
    parser.add_argument("--model-dir", "--model_dir", default="/opt/ml/processing/model",
                        help="dir holding model.tar.gz (or the tarball / an extracted model dir)")
    parser.add_argument("--test-dir", "--test_dir", default="/opt/ml/processing/test",
                        help="dir holding test.csv (or the csv itself)")
    parser.add_argument("--reference-dir", "--reference_dir", default="/opt/ml/processing/input/reference",
                        help="dir holding hs2022_nomenclature.csv (chapter names)")
    parser.add_argument("--output-dir", "--output_dir", default="/opt/ml/processing/evaluation")
    parser.add_argument("--approved-dir", "--approved_dir", default=None,
                        help="dir holding the approved-model pointer (approved.json, model.tar.gz): compare with it")
    parser.add_argument("--max-regression", "--max_regression", type=float, default=DEFAULT_MAX_REGRESSION,
                        help="how far (HS6 top-1, as a fraction) below the approved model still passes "
                             "(default %(default)s)")
    return parser


def top1_predictions(predictor):
    """texts -> one predicted code each ("" for a row the model cannot classify)."""
    def predict(texts: list[str]) -> list[str]:
        from steps.hsml.evaluation import predict_in_batches

        return [row[0][0] if row else "" for row in predict_in_batches(predictor, texts, k=1, log=lambda _: None)]
    return predict


def write_generalisation(model_dir, test_dir, output_dir, log) -> dict:
    """generalisation.json: the model on the long-text probes of the test rows."""
    from steps.hsml.evaluation import find_model, read_test_rows
    from steps.hsml.generalisation import probe_report
    from steps.hsml.predictor import load_predictor

    rows = read_test_rows(test_dir)
    report = probe_report(top1_predictions(load_predictor(find_model(model_dir))), rows.descriptions, rows.codes)
    (Path(output_dir) / GENERALISATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log(f"[evaluate] long-text probes of the {report['rows']} test rows: HS6 {report['hs6_top1_accuracy']:.3f} "
        f"HS4 {report['hs4_top1_accuracy']:.3f} HS2 {report['hs2_top1_accuracy']:.3f}; commonest prediction "
        f"{report['commonest_predicted_code']} takes {report['commonest_predicted_share']:.1%} (commonest true "
        f"code {report['true_commonest_code']}: {report['true_commonest_share']:.1%})")
    return report


def write_comparison(candidate_report: dict, test_dir, approved_dir, max_regression: float, output_dir,
                     log) -> dict:
    """comparison.json: the approved model scored on the same test rows, and the verdict. The candidate's sha256
    is the one the evaluation already wrote to lineage.json in output_dir (not hashed a second time)."""
    from steps.hsml.approved_comparison import compare, read_approved
    from steps.hsml.approved_comparison import write_comparison as write_comparison_file
    from steps.hsml.evaluation import LINEAGE_FILE, evaluate_predictor, read_test_rows
    from steps.hsml.predictor import load_predictor

    rows = read_test_rows(test_dir)
    approved = read_approved(approved_dir)
    lineage = json.loads((Path(output_dir) / LINEAGE_FILE).read_text(encoding="utf-8"))
    approved_accuracy = None
    if approved is not None:
        log(f"[evaluate] approved model: version {approved.version} ({approved.arn}); scoring it on the same rows")
        try:
            predictor = load_predictor(approved.path)
        except Exception as error:
            raise RuntimeError(f"the approved model (version {approved.version}, {approved.arn}) cannot be loaded "
                               f"by this code: {error}; reject it or approve a newer version") from error
        approved_report = evaluate_predictor(predictor, rows.descriptions, rows.codes, log=lambda _: None)
        approved_accuracy = approved_report["multiclass_classification_metrics"]["accuracy"]["value"]
    candidate_accuracy = candidate_report["multiclass_classification_metrics"]["accuracy"]["value"]
    comparison = compare(candidate_accuracy, approved_accuracy, len(rows.codes), max_regression, approved,
                         lineage["model_sha256"])
    write_comparison_file(comparison, output_dir)
    log(f"[evaluate] against the approved model: {comparison['message']}")
    return comparison


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        from steps.hsml.evaluation import run

        def log(message: str) -> None:
            print(message, flush=True)

        report = run(args.model_dir, args.test_dir, args.reference_dir, args.output_dir, log=log)
        write_generalisation(args.model_dir, args.test_dir, args.output_dir, log)
        if args.approved_dir is not None:
            write_comparison(report, args.test_dir, args.approved_dir, args.max_regression, args.output_dir, log)

    return run_command(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
