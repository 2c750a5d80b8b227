"""Evaluation job: SageMaker Processing entry point (the same code runs as `hscode evaluate`).

Scores the model on the test split and writes evaluation.json (SageMaker model-quality format), lineage.json
(the model's sha256, the rows scored) and PNG plots into the output dir; the logic is steps/hsml/evaluation.py.

    python steps/evaluate.py --model-dir DIR_WITH_model.tar.gz --test-dir DIR_WITH_test.csv \
        --reference-dir DIR_WITH_hs2022_nomenclature.csv --output-dir OUT
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script inside the container: make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml.cli_errors import run_command  # noqa: E402

PROGRAM = "evaluate.py"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM,
                                     description="Evaluate an HS-code model on the test split (SageMaker Processing).")
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

    def body() -> None:
        from steps.hsml.evaluation import run

        run(args.model_dir, args.test_dir, args.reference_dir, args.output_dir,
            log=lambda message: print(message, flush=True))

    return run_command(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
