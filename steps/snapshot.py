"""Snapshot job: copies the pipeline's inputs under a content-addressed prefix and writes snapshot.json.

Runs as the pipeline's first step (SageMaker Processing, never cached; paths below are the container
defaults), or by hand:

    python steps/snapshot.py --data-dir DATA --reference-dir REFERENCE --snapshots-dir OUT --manifest-dir OUT2

What the hash covers and why: steps/hsml/snapshot.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script inside the container: make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.hsml.cli_errors import run_command  # noqa: E402
from steps.hsml.snapshot import take_snapshot  # noqa: E402

PROGRAM = "snapshot"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/opt/ml/processing/input/data",
                        help="the labelled descriptions (the InputDataUri prefix)")
    parser.add_argument("--reference-dir", default="/opt/ml/processing/input/reference",
                        help="the HS 2022 nomenclature (the ReferenceDataUri prefix)")
    parser.add_argument("--snapshots-dir", default="/opt/ml/processing/snapshots",
                        help="where <hash>/data/... and <hash>/reference/... are written")
    parser.add_argument("--manifest-dir", default="/opt/ml/processing/manifest",
                        help="where snapshot.json is written (the step's property file)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def body() -> None:
        manifest = take_snapshot({"data": Path(args.data_dir), "reference": Path(args.reference_dir)},
                                 Path(args.snapshots_dir), Path(args.manifest_dir))
        rows = ", ".join(f"{source} {count} rows" for source, count in manifest["rows"].items())
        print(f"[snapshot] {len(manifest['files'])} files ({rows}) -> {manifest['hash']}", flush=True)

    return run_command(PROGRAM, body)


if __name__ == "__main__":
    sys.exit(main())
