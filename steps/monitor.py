"""The drift check as a job: a model's baseline against a window of captured traffic.

    python steps/monitor.py --model-dir M --capture-dir C --output-dir O [--endpoint-name hs-code] \
        [--variant champion] [--since ISO] [--group hs-code-classifier] [--cloudwatch]

M is an extracted model dir or a folder holding model.tar.gz (a Processing input of the registered artifact).
Writes O/drift.json and O/drift.png; with --cloudwatch puts HSMLOps/Drift KLDivergence (dimension
ModelPackageGroup). The logic is pipelines/monitoring/drift.py's check_model_dir; this is the thin shell.
A model without drift_baseline.json exits 2; not enough data is exit 0, no metric.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from steps.hsml.cli_errors import UsageError, run_command
from steps.hsml.model_archive import unpack_model_archive

PROGRAM = "monitor.py"


def model_dir_of(path: Path, scratch: Path) -> Path:
    """`path` if it is a model dir, else its model.tar.gz extracted into scratch."""
    if (path / "encoder.json").is_file():
        return path
    archives = sorted(path.glob("*.tar.gz")) if path.is_dir() else [path] if path.is_file() else []
    if not archives:
        raise UsageError(f"{path} holds neither a model dir (encoder.json) nor a model.tar.gz")
    return unpack_model_archive(archives[0], scratch / "model")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--capture-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--endpoint-name", default="hs-code")
    parser.add_argument("--variant", default="champion")
    parser.add_argument("--since")
    parser.add_argument("--group", default="hs-code-classifier")
    parser.add_argument("--cloudwatch", action="store_true")
    args = parser.parse_args(argv)
    return run_command(PROGRAM, lambda: monitor_job(args))


def monitor_job(args) -> int:
    from pipelines.monitoring.drift import check_model_dir, parse_since

    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        report = check_model_dir(model_dir_of(args.model_dir, Path(scratch)), args.capture_dir,
                                 endpoint=args.endpoint_name, variant=args.variant,
                                 since=parse_since(args.since), out_dir=args.output_dir, group=args.group,
                                 publish=("cloudwatch",) if args.cloudwatch else ())
    result = report.result
    print(f"{PROGRAM}: drift {result['drift']}: {result['reason']}; window {report.window['rows']} rows, "
          f"{report.window['bad_lines']} bad lines, {report.window['other_files']} other files skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
