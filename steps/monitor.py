"""The drift check as a job: a model's baseline against a window of captured traffic.

    python steps/monitor.py --model-dir M --capture-dir C --output-dir O [--endpoint-name hs-code] \
        [--variant champion] [--since ISO | --window-hours 24] [--group hs-code-classifier] \
        [--metric-sink none|local|cloudwatch] [--cloudwatch]

M is one of
- an extracted model dir, or a folder holding model.tar.gz: that model, checked against --variant's capture;
- a folder of variant folders (champion/, challenger/), each one of the above: what the deploy wrote to the
  monitoring models prefix (infra/deploy/deploy_endpoint.py). Each variant is checked against its own capture
  with its own model's baseline; the metric is the largest over the variants with enough data (after an A/B
  promotion the challenger variant carries the traffic, so watching only "champion" would see nothing).
--window-hours H is the window [now - H h, now), the scheduled pipeline's form; --since gives its start instead.
Writes O/drift.json and O/drift.png (O/<variant>/ per variant, O/drift.json the worst); --metric-sink cloudwatch
(or --cloudwatch) puts HSMLOps/Drift KLDivergence (dimension ModelPackageGroup), local appends it to
$HSCODE_HOME/metrics/HSMLOps-Drift.jsonl (the local pipeline run), none (default) publishes nothing.
The logic is pipelines/monitoring/drift.py's check_model_dir / check_variants; this is the thin shell.
A model without drift_baseline.json exits 2; not enough data is exit 0, no metric.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from steps.hsml.cli_errors import UsageError, run_command
from steps.hsml.model_archive import unpack_model_archive

PROGRAM = "monitor.py"
VARIANTS = ("champion", "challenger")  # the router's variant names (pipelines/serving/routing.py)
METRIC_SINKS = ("none", "local", "cloudwatch")


def model_dir_of(path: Path, scratch: Path) -> Path:
    """`path` if it is a model dir, else its model.tar.gz extracted into scratch."""
    if (path / "encoder.json").is_file():
        return path
    archives = sorted(path.glob("*.tar.gz")) if path.is_dir() else [path] if path.is_file() else []
    if not archives:
        raise UsageError(f"{path} holds neither a model dir (encoder.json) nor a model.tar.gz")
    return unpack_model_archive(archives[0], scratch / "model")


def model_info(folder: Path) -> dict | None:
    """model.json beside a variant's model.tar.gz (which package it is), if the deploy wrote one."""
    path = folder / "model.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise UsageError(f"{path} is not JSON: rewrite it (the deploy writes it) or delete it") from None
    return info if isinstance(info, dict) else None


def variant_folders(path: Path) -> dict[str, Path]:
    """{variant: folder} when `path` is a folder of variant folders (a monitoring models prefix), else {}."""
    if not path.is_dir() or (path / "encoder.json").is_file() or any(path.glob("*.tar.gz")):
        return {}
    return {name: path / name for name in VARIANTS if (path / name).is_dir()}


def seed_only(path: Path) -> bool:
    """A models prefix with its seed object and no model yet (the Processing input before the first deploy)."""
    from pipelines.monitoring.drift import SEED_OBJECT

    return path.is_dir() and (path / SEED_OBJECT).is_file() and not (path / "encoder.json").is_file() \
        and not any(path.glob("*.tar.gz"))


def window_start(since: str | None, window_hours: float | None) -> datetime | None:
    from pipelines.monitoring.drift import parse_since

    if since and window_hours is not None:
        raise UsageError("give --since or --window-hours, not both")
    if window_hours is None:
        return parse_since(since)
    if not window_hours > 0:
        raise UsageError(f"--window-hours {window_hours:g}: give a positive number of hours")
    return datetime.now(timezone.utc) - timedelta(hours=window_hours)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--capture-dir", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--endpoint-name", default="hs-code")
    parser.add_argument("--variant", help="the capture variant of a single model (default champion); with a "
                        "folder of variant folders, check only this one")
    parser.add_argument("--since", help="window start, ISO (UTC unless stated)")
    parser.add_argument("--window-hours", type=float, help="window = the last H hours before now")
    parser.add_argument("--group", default="hs-code-classifier")
    parser.add_argument("--metric-sink", choices=METRIC_SINKS, default="none")
    parser.add_argument("--cloudwatch", action="store_true", help="same as --metric-sink cloudwatch")
    args = parser.parse_args(argv)
    return run_command(PROGRAM, lambda: monitor_job(args))


def monitor_job(args) -> int:
    from pipelines.monitoring.drift import check_model_dir, check_variants, deployed_version, nothing_deployed

    since = window_start(args.since, args.window_hours)
    sink = "cloudwatch" if args.cloudwatch else args.metric_sink
    publish = () if sink == "none" else (sink,)
    folders = variant_folders(args.model_dir)
    if args.variant and folders:
        if args.variant not in folders:
            raise UsageError(f"--variant {args.variant}: {args.model_dir} holds only {', '.join(folders)}")
        folders = {args.variant: folders[args.variant]}
    if not folders and seed_only(args.model_dir):
        report = nothing_deployed(args.output_dir, args.model_dir)
        print(f"{PROGRAM}: {report.result['reason']}")
        return 0
    with tempfile.TemporaryDirectory(prefix="model-") as scratch:
        if folders:
            models = {variant: model_dir_of(folder, Path(scratch) / variant) for variant, folder in folders.items()}
            report = check_variants(models, args.capture_dir, endpoint=args.endpoint_name, since=since,
                                    out_dir=args.output_dir, group=args.group, publish=publish,
                                    models_info={v: model_info(folder) for v, folder in folders.items()})
            for variant, summary in report.variants.items():
                print(f"{PROGRAM}: variant {variant}: {summary['reason']}; {summary['other_version_records']} "
                      "records of another model version left out")
        else:  # one model: a model.json beside it names the version its capture records carry
            version = deployed_version(model_info(args.model_dir if args.model_dir.is_dir() else args.model_dir.parent))
            report = check_model_dir(model_dir_of(args.model_dir, Path(scratch)), args.capture_dir,
                                     endpoint=args.endpoint_name, variant=args.variant or "champion", since=since,
                                     out_dir=args.output_dir, group=args.group, publish=publish,
                                     model={"ref": str(args.model_dir), "version": version} if version else None,
                                     model_version=version)
    result = report.result
    print(f"{PROGRAM}: drift {result['drift']}: {result['reason']}; window {report.window['rows']} rows, "
          f"{report.window['bad_lines']} bad lines, {report.window['other_files']} other files, "
          f"{report.window['other_version_records']} records of another model version skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
