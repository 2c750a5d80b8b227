"""The `hscode` console script.

Each area registers its own subcommands in its own module, so this file only wires them together.
Every handler runs inside steps.hsml.cli_errors.run_command: UsageError exits 2, JobFailed exits 1,
both as `hscode <command>: error: <message>` on stderr.
"""
from __future__ import annotations

import argparse
import os
import sys

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) is noise on a command line; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipelines.cli import (
    ab, data, evaluate, feedback, monitor, pipeline_aws, pipeline_local, predict, registry, router, serve, train,
)
from steps.hsml.cli_errors import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hscode",
        description="HS-code classification MLOps: data preparation, training, evaluation, the SageMaker pipeline "
        "(on AWS or locally), the model registry, prediction, and serving with broker feedback.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data.register(commands)
    train.register(commands)
    evaluate.register(commands)
    predict.register(commands)
    pipeline_parser = commands.add_parser("pipeline", help="build, upsert, start or run the SageMaker pipeline")
    pipeline_commands = pipeline_parser.add_subparsers(dest="pipeline_command", required=True, metavar="ACTION")
    pipeline_aws.register(pipeline_commands)
    pipeline_local.register(pipeline_commands)
    registry.register(commands)
    router.register(commands)
    serve.register(commands)
    feedback.register(commands)
    ab.register(commands)
    monitor.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(_program(args), lambda: args.handler(args))


def _program(args) -> str:
    """`hscode pipeline run`, `hscode registry approve`...: the command words, as argparse names them in errors."""
    words = ["hscode", args.command]
    action = getattr(args, f"{args.command}_command", None)
    return " ".join(words + ([action] if action else []))


if __name__ == "__main__":
    sys.exit(main())
