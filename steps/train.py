"""Training job: SageMaker script-mode entry point (the same code runs as `hscode train`).

Paths come from SageMaker's environment (SM_CHANNEL_TRAIN: train.csv + encoder.json, SM_CHANNEL_VALIDATION:
validation.csv, SM_MODEL_DIR: where the model dir is written) or from --train / --validation / --model-dir;
hyper-parameters come as `--name value` (steps/hsml/hyperparameters.py has the table). The logic is
steps/hsml/training.py; every epoch, and last for the best epoch, it prints `val_accuracy=0.8123;` and
`val_macro_f1=0.4567;` on lines of their own, which the tuner's metric regexes read.

    python steps/train.py --model_type textcnn --epochs 20          # paths from SM_CHANNEL_* / SM_MODEL_DIR
    python steps/train.py --train DIR --validation DIR --model_dir OUT
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (SageMaker script mode): make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml.cli_errors import run_command  # noqa: E402
from steps.hsml.hyperparameters import add_hyperparameter_arguments, given_hyperparameters  # noqa: E402

PROGRAM = "train.py"


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog=PROGRAM, description="Train an HS-code classifier (SageMaker script mode).")
    parser.add_argument("--train", default=env("SM_CHANNEL_TRAIN"),
                        help="dir with train.csv and encoder.json (default $SM_CHANNEL_TRAIN)")
    parser.add_argument("--validation", default=env("SM_CHANNEL_VALIDATION"),
                        help="dir with validation.csv (default $SM_CHANNEL_VALIDATION, else the train dir)")
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir", default=env("SM_MODEL_DIR"),
                        help="where the model directory is written (default $SM_MODEL_DIR)")
    add_hyperparameter_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # SageMaker adds its own (sagemaker_program, sagemaker_submit_directory, ...)
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)

    def body() -> None:
        from steps.hsml.training import run

        run(args.train, args.validation, args.model_dir, given_hyperparameters(args),
            log=lambda line: print(line, flush=True))

    return run_command(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
