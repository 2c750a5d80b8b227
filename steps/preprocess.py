"""Data preparation job: SageMaker Processing entry point (the same code runs as `hscode data prepare`).

Reads every *.csv / *.csv.gz under --input-dir, writes train.csv, validation.csv, test.csv, rejected.csv,
encoder.json, report.json and profile.json flat into --output-dir, and vagueness.json (the "too vague to
classify" detector) when --reference-dir holds hmrc_vague_terms.csv beside the nomenclature; the logic is
steps/hsml/preparation.py.

    python steps/preprocess.py --input-dir DIR --reference-dir DIR_WITH_hs2022_nomenclature.csv --output-dir OUT
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (python steps/preprocess.py): make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml.cli_errors import run_command  # noqa: E402
from steps.hsml.preparation import add_options, options_from_args, prepare  # noqa: E402

PROGRAM = "preprocess.py"
DEFAULT_INPUT_DIR = "/opt/ml/processing/input/data"
DEFAULT_REFERENCE_DIR = "/opt/ml/processing/input/reference"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/output"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.splitlines()[0])
    parser.add_argument("--input-dir", default=DEFAULT_INPUT_DIR)
    parser.add_argument("--reference-dir", default=DEFAULT_REFERENCE_DIR)
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR)
    add_options(parser)
    args = parser.parse_args(argv)

    def body() -> None:
        prepare([args.input_dir], args.reference_dir, args.output_dir, options_from_args(args))

    return run_command(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
