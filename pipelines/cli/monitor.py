"""hscode monitor drift|run: input drift of the served model against its training baseline (docs/monitoring.md).

    hscode monitor drift --model latest-approved [--capture DIR] [--endpoint hs-code] [--variant champion]
                         [--since ISO] [--json] [--out DIR] [--cloudwatch]
    hscode monitor run [--force] [--profile quick]     # drift -> feedback -> local retraining -> pending version

Writes drift.json and drift.png (default under $HSCODE_HOME/monitoring/drift/<timestamp>/) and publishes the
metric HSMLOps/Drift KLDivergence (locally to $HSCODE_HOME/metrics/HSMLOps-Drift.jsonl; --cloudwatch also to AWS).
Exit 0 whether or not there is drift: the verdict is in the output and the metric, the alarm acts on it.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipelines import settings
from pipelines.monitoring import drift


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "monitor", help="drift monitoring: KL divergence between the training baseline and captured traffic",
        description="Compare what the endpoint is asked (and answers) with the model's training baseline.")
    actions = parser.add_subparsers(dest="monitor_command", required=True, metavar="ACTION")
    check = actions.add_parser("drift", help="one drift check over the capture; writes drift.json, the plot, "
                               "the metric", description="Loads the model and its baseline (drift_baseline.json), "
                               "the capture window, and tests each feature against its bootstrap threshold.")
    check.add_argument("--model", default="latest-approved",
                       help="the model served: latest-approved (default), a version number, a model-package ARN, "
                       "a model.tar.gz or an extracted model dir")
    check.add_argument("--capture", type=Path, help="capture root (default $HSCODE_HOME/capture)")
    check.add_argument("--endpoint", default=drift.DEFAULT_ENDPOINT, help="endpoint name (default %(default)s)")
    check.add_argument("--variant", default=drift.DEFAULT_VARIANT, help="variant (default %(default)s)")
    check.add_argument("--since", help="only requests at or after this ISO time (UTC unless stated)")
    check.add_argument("--group", help="model package group: registry refs and the metric's dimension "
                       f"(default {settings.DEFAULT_MODEL_PACKAGE_GROUP})")
    check.add_argument("--out", type=Path, help="output folder (default $HSCODE_HOME/monitoring/drift/<timestamp>)")
    check.add_argument("--json", action="store_true", help="print drift.json instead of the summary")
    check.add_argument("--cloudwatch", action="store_true", help="also put the metric to CloudWatch")
    check.add_argument("--region", help="with --cloudwatch: the AWS region (default: the SDK's)")
    check.set_defaults(handler=_drift)

    loop = actions.add_parser("run", help="the loop: drift check, then on drift export the feedback, retrain "
                              "locally, register PendingManualApproval", description="One turn of the closed "
                              "loop on this machine (what the drift alarm and the retraining rule do on AWS).")
    loop.add_argument("--model", default="latest-approved", help="the model served (default %(default)s)")
    loop.add_argument("--capture", type=Path, help="capture root (default $HSCODE_HOME/capture)")
    loop.add_argument("--ground-truth", type=Path, help="broker labels (default $HSCODE_HOME/ground-truth)")
    loop.add_argument("--endpoint", default=drift.DEFAULT_ENDPOINT, help="endpoint name (default %(default)s)")
    loop.add_argument("--variant", default=drift.DEFAULT_VARIANT, help="variant (default %(default)s)")
    loop.add_argument("--since", help="only requests at or after this ISO time (UTC unless stated)")
    loop.add_argument("--group", help=f"model package group (default {settings.DEFAULT_MODEL_PACKAGE_GROUP})")
    loop.add_argument("--force", action="store_true", help="retrain even without drift")
    loop.add_argument("--profile", default=None, help="the training pipeline's run profile (default quick)")
    loop.add_argument("--quiet", action="store_true", help="step and trial lines only, not the jobs' output")
    loop.set_defaults(handler=_run)


def _drift(args) -> int:
    report = drift.check_drift(
        args.model, args.capture or settings.hscode_home() / "capture", endpoint=args.endpoint,
        variant=args.variant, since=drift.parse_since(args.since), out_dir=args.out, group=args.group,
        publish=("local", "cloudwatch") if args.cloudwatch else ("local",), region=args.region)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else drift.summary(report))
    return 0


def _run(args) -> int:
    from pipelines.monitoring.loop import run_loop

    run_loop(model=args.model, capture=args.capture, ground_truth=args.ground_truth, endpoint=args.endpoint,
             variant=args.variant, since=drift.parse_since(args.since), group=args.group, force=args.force,
             profile=args.profile, quiet=args.quiet)
    return 0
