"""hscode train: the training job's code (steps/hsml/training.py) run locally on a data-preparation output dir.

    hscode train --train DATA_DIR [--validation DIR] --model-dir OUT [--model-type lstm --epochs 10 ...] [--package]
"""
from __future__ import annotations

from pathlib import Path

from steps.hsml.cli_errors import run_command
from steps.hsml.hyperparameters import add_hyperparameter_arguments, given_hyperparameters


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model on prepared data (the SageMaker training job's code, run locally)",
        description="Train an HS-code classifier on the output of `hscode data prepare` and write the model dir "
        "(SavedModel in 1/, code/ with the serving hook, encoder.json, metadata.json). Hyper-parameters not given "
        "take the defaults of steps/hsml/hyperparameters.py (the model type's own first).",
    )
    parser.add_argument("--train", required=True, help="dir with train.csv and encoder.json (data preparation output)")
    parser.add_argument("--validation", help="dir with validation.csv (default: the --train dir)")
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir", required=True, help="output model dir")
    parser.add_argument("--package", action="store_true", help="also write model.tar.gz next to the model dir")
    add_hyperparameter_arguments(parser)
    parser.set_defaults(handler=_train)


def _train(args) -> int:
    return run_command("hscode train", lambda: train(args))


def train(args) -> None:
    from steps.hsml.export import pack_model_dir
    from steps.hsml.training import run

    result = run(args.train, args.validation, args.model_dir, given_hyperparameters(args),
                 log=lambda line: print(line, flush=True))
    metrics = result["metrics"]
    print(f"trained {result['hyperparameters']['model_type']} in {result['seconds']:.0f}s: best epoch "
          f"{result['best_epoch']}, val_accuracy {metrics['val_accuracy']:.4f}, val_macro_f1 "
          f"{metrics['val_macro_f1']:.4f} -> {args.model_dir}")
    if args.package:
        tar_path = pack_model_dir(args.model_dir, Path(args.model_dir).with_suffix(".tar.gz"))
        print(f"packed {tar_path}")
