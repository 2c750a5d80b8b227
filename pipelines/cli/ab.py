"""hscode ab start|analyze|decide: A/B experiments between the served champion and a challenger (docs/ab-testing.md).

    hscode ab start --challenger 2 [--champion latest-approved] [--weight 0.2] [--mde 0.03] [--looks 3]
    hscode ab analyze [--plan FILE] [--capture DIR] [--ground-truth DIR] [--json]
    hscode ab decide

The plan is fixed at start ($HSCODE_HOME/ab/<endpoint>/plan.json, and in S3 with --backend sagemaker); every
look is recorded with its inputs (looks.jsonl beside the plan); decide applies the latest look's decision through
the serving weights store (restart-free) and the registry, then closes the experiment.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path

from pipelines import settings
from pipelines.monitoring.plans import PlanStore, read_looks, read_plan_json
from steps.hsml.cli_errors import UsageError

CHAMPION, CHALLENGER = "champion", "challenger"  # hscode serve's and the router's variant names
DEFAULT_ENDPOINT = "hs-code"
# infra/serving.yml names the router's weights parameter /<ProjectName>/<Environment>/serving/weights; the stacks'
# defaults are hs-mlops and dev. A deployment with other names passes them (or the parameter itself).
DEFAULT_PROJECT_NAME, DEFAULT_ENVIRONMENT = "hs-mlops", "dev"


def weights_parameter_name(project_name: str, environment: str) -> str:
    """The serving stack's WeightsParameterName for a ProjectName and Environment."""
    return f"/{project_name}/{environment}/serving/weights"
BASELINE_METRICS = {"hs6": "accuracy", "hs4": "hs4_top1_accuracy"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "ab", help="A/B experiments: a pre-registered plan, sequential looks decided by ANOVA, promotion",
        description="Plan an experiment between the champion and a challenger, look at it (one-way ANOVA on "
        "per-row correctness, O'Brien-Fleming boundaries, SRM and guardrails), and apply the decision.")
    actions = parser.add_subparsers(dest="ab_command", required=True, metavar="ACTION")

    start = actions.add_parser("start", help="fix the plan and send the challenger its share of the traffic",
                               description="Sizes the experiment from the champion's registered accuracy, records "
                               "the plan, and writes the weights the running server or router picks up.")
    start.add_argument("--challenger", required=True, help="the challenger: a version number or model-package ARN")
    start.add_argument("--champion", default="latest-approved",
                       help="the champion (default %(default)s): what `hscode serve --model` serves")
    start.add_argument("--weight", type=float, default=0.2, help="the challenger's traffic share (default %(default)s)")
    start.add_argument("--mde", type=float, default=0.03,
                       help="minimum detectable effect, absolute accuracy (default %(default)s)")
    start.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default %(default)s)")
    start.add_argument("--power", type=float, default=0.8, help="power at the MDE (default %(default)s)")
    start.add_argument("--looks", type=int, default=3, help="planned looks, the last at full size (default %(default)s)")
    start.add_argument("--metric", choices=("hs6", "hs4"), default="hs6",
                       help="what counts as correct: the top-1 HS6 code, or its heading (default %(default)s)")
    start.add_argument("--baseline", type=float,
                       help="the champion's accuracy (default: its registered accuracy, hs4_top1_accuracy for hs4)")
    start.add_argument("--label-window-hours", type=float, default=72.0,
                       help="how long a prediction may wait for its broker label (default %(default)s)")
    _common(start, backend=True)
    start.set_defaults(handler=_start)

    analyze = actions.add_parser("analyze", help="one look: join capture and ground truth, run the planned analysis",
                                 description="Records the look with its inputs (looks.jsonl beside the plan) and "
                                 "prints the decision: continue, promote, keep or invalid.")
    analyze.add_argument("--plan", type=Path, help="plan file (default: the running experiment's)")
    analyze.add_argument("--capture", type=Path, help="capture root (default $HSCODE_HOME/capture)")
    analyze.add_argument("--ground-truth", type=Path, help="ground-truth root (default $HSCODE_HOME/ground-truth)")
    analyze.add_argument("--json", action="store_true", help="print the analysis as JSON")
    _common(analyze, backend=False)
    analyze.set_defaults(handler=_analyze)

    sizes = actions.add_parser("sizes", help="labelled rows per arm for a few baselines and MDEs (a markdown table)",
                               description="What `hscode ab start` would plan: ab_plan.make_plan's max_n_per_arm, "
                               "two-sided, inflated for the group-sequential looks.")
    sizes.add_argument("--baselines", default="0.6,0.7,0.8", help="champion accuracies (default %(default)s)")
    sizes.add_argument("--mdes", default="0.02,0.03,0.05", help="minimum detectable effects (default %(default)s)")
    sizes.add_argument("--alpha", type=float, default=0.05)
    sizes.add_argument("--power", type=float, default=0.8)
    sizes.add_argument("--looks", type=int, default=3)
    sizes.set_defaults(handler=_sizes)

    decide = actions.add_parser("decide", help="apply the latest look's decision (promote or keep closes it)",
                                description="promote: the challenger gets 100 %% and is approved in the registry; "
                                "keep: the challenger gets 0 %%; continue: nothing (exit 0); invalid: nothing (exit 1).")
    _common(decide, backend=True)
    decide.set_defaults(handler=_decide)


def _common(parser, *, backend: bool) -> None:
    parser.add_argument("--endpoint-name", default=DEFAULT_ENDPOINT,
                        help="the endpoint the experiment runs on (default %(default)s)")
    if not backend:
        return
    parser.add_argument("--group", help="model package group (default hs-code-classifier)")
    parser.add_argument("--backend", choices=("local", "sagemaker"), default="local",
                        help="local: the local registry and hscode serve's weights file; sagemaker: the SageMaker "
                        "registry, the router's SSM weights and the plan in S3 (default %(default)s)")
    parser.add_argument("--bucket", help="with --backend sagemaker: the artifact bucket the plan goes to "
                        "(s3://BUCKET/ab/<endpoint>/plan.json, the monitoring pipeline's PlanUri)")
    parser.add_argument("--project-name", default=DEFAULT_PROJECT_NAME,
                        help="with --backend sagemaker: the stacks' ProjectName (default %(default)s)")
    parser.add_argument("--environment", default=DEFAULT_ENVIRONMENT,
                        help="with --backend sagemaker: the stacks' Environment (default %(default)s)")
    parser.add_argument("--weights-parameter",
                        help="with --backend sagemaker: the router's weights parameter (serving stack output "
                        "WeightsParameterName; default /<project-name>/<environment>/serving/weights)")
    parser.add_argument("--region", help="with --backend sagemaker: the AWS region (default: the SDK's)")


# ---- back ends

def _registry(args):
    from pipelines.registry.factory import get_registry

    return get_registry(args.backend, **({"region": args.region} if args.backend == "sagemaker" else {}))


def _weights_store(args):
    if args.backend == "local":
        from pipelines.serving.weights import LocalWeightsStore

        return LocalWeightsStore(settings.hscode_home() / "serving" / args.endpoint_name / "weights.json")
    import boto3

    from pipelines.serving.weights import SsmWeightsStore

    return SsmWeightsStore(boto3.client("ssm", region_name=args.region), _weights_parameter(args))


def _weights_parameter(args) -> str:
    return args.weights_parameter or weights_parameter_name(args.project_name, args.environment)


def _mirror(args):
    if args.backend != "sagemaker":
        return None
    if not args.bucket:
        raise UsageError("--backend sagemaker needs --bucket: the artifact bucket (model-resources stack output "
                         "ArtifactBucketName), where the monitoring pipeline reads the plan")
    import boto3

    from pipelines.monitoring.plans import S3PlanMirror

    return S3PlanMirror(boto3.client("s3", region_name=args.region), args.bucket, args.endpoint_name)


# ---- start

def _start(args) -> int:
    from pipelines.registry.model import RegistryError
    from pipelines.registry.resolve import resolve_version
    from steps.hsml.ab_plan import make_plan, plan_to_dict

    if not 0.0 < args.weight < 1.0:
        raise UsageError(f"--weight {args.weight}: give the challenger's share, between 0 and 1 (exclusive)")
    store = PlanStore(settings.hscode_home(), args.endpoint_name)
    store.check_can_start()  # before the registry is asked
    mirror = _mirror(args)
    registry = _registry(args)
    try:
        champion = resolve_version(args.champion, group=args.group, registry=registry)
        challenger = resolve_version(args.challenger, group=args.group, registry=registry)
    except RegistryError as error:
        raise UsageError(str(error)) from None
    if champion.arn == challenger.arn:
        raise UsageError(f"--champion and --challenger are both version {champion.version}: an A/B test needs two")
    baseline = args.baseline
    if baseline is None:
        name = BASELINE_METRICS[args.metric]
        baseline = champion.metrics.get(name)
        if baseline is None:
            raise UsageError(f"champion version {champion.version} has no registered {name!r}: pass --baseline "
                             "with its accuracy")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    weights = {CHAMPION: round(1.0 - args.weight, 6), CHALLENGER: round(args.weight, 6)}
    plan = make_plan(CHAMPION, CHALLENGER, weights, float(baseline), alpha=args.alpha, power=args.power,
                     mde=args.mde, looks=args.looks, metric=args.metric, label_window_hours=args.label_window_hours,
                     models={CHAMPION: str(champion.version), CHALLENGER: str(challenger.version)},
                     created=now.isoformat(), experiment_id=f"{args.endpoint_name}-{now:%Y%m%dT%H%M%SZ}")
    payload = plan_to_dict(plan)
    path = store.start(payload)
    where = [str(path)]
    if mirror is not None:
        where.append(mirror.put_plan(payload))
    _weights_store(args).write(weights)
    for line in describe_plan(payload):
        print(line)
    print(f"plan: {', '.join(where)}")
    target = "the weights file of hscode serve" if args.backend == "local" else f"SSM {_weights_parameter(args)}"
    print(f"weights written to {target}: champion={weights[CHAMPION]:g}, challenger={weights[CHALLENGER]:g} "
          "(a running server or router picks them up without a restart)")
    if args.backend == "local":
        print(f"serve both if not yet: hscode serve --model {champion.version} --challenger {challenger.version}")
    return 0


def describe_plan(plan: dict) -> list[str]:
    """The plan in words: who, the sizes per arm, the boundary of each look, the guardrails, the label window."""
    models = plan.get("models") or {}
    n = plan["max_n_per_arm"]
    fractions = plan.get("information_fractions") or [(k + 1) / plan["looks"] for k in range(plan["looks"])]
    guardrails = plan.get("guardrails") or {}
    baseline = plan.get("baseline_accuracy")
    lines = [
        f"experiment {plan.get('experiment_id')}: {plan['champion']} = version {models.get(plan['champion'], '?')}"
        f", {plan['challenger']} = version {models.get(plan['challenger'], '?')}; weights "
        + ", ".join(f"{k}={v:g}" for k, v in sorted(plan["weights"].items())),
        f"metric {plan.get('metric', 'hs6')} top-1 accuracy, baseline "
        f"{'?' if baseline is None else f'{baseline:.4f}'}; alpha {plan['alpha']:g} two-sided, power "
        f"{plan['power']:g} at +{plan['mde']:g}: {n:,} labelled rows per arm by the last look",
        "looks (O'Brien-Fleming, Lan-DeMets spending): " + "; ".join(
            f"{k + 1} at {math.ceil(f * n):,} per arm, |z| >= {b:.3f}"
            for k, (f, b) in enumerate(zip(fractions, plan.get("boundaries") or []))),
        f"guardrails: challenger p95 latency <= {guardrails.get('latency_p95_ratio', 1.2):g} x the champion's; "
        f"error rate <= the champion's + {guardrails.get('max_error_rate_increase', 0.0):g}; label coverage >= "
        f"{guardrails.get('min_label_coverage', 0.2):.0%}; sample-ratio mismatch p < 0.001 is invalid",
        f"label window: {plan.get('label_window_hours', 72.0):g} h (later labels are left out)",
    ]
    return lines


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"{flag} {text!r}: give numbers separated by commas, e.g. 0.6,0.7") from None


def _sizes(args) -> int:
    from steps.hsml.ab_plan import make_plan

    baselines, mdes = _numbers(args.baselines, "--baselines"), _numbers(args.mdes, "--mdes")
    print(f"Labelled rows per arm (alpha {args.alpha:g} two-sided, power {args.power:g}, {args.looks} looks "
          "O'Brien-Fleming; single look in brackets):\n")
    print("| baseline | " + " | ".join(f"+{m:g}" for m in mdes) + " |")
    print("|---|" + "---:|" * len(mdes))
    for baseline in baselines:
        cells = []
        for mde in mdes:
            weights = {CHAMPION: 0.5, CHALLENGER: 0.5}
            planned = make_plan(CHAMPION, CHALLENGER, weights, baseline, args.alpha, args.power, mde, args.looks)
            single = make_plan(CHAMPION, CHALLENGER, weights, baseline, args.alpha, args.power, mde, 1)
            cells.append(f"{planned.max_n_per_arm:,} ({single.max_n_per_arm:,})")
        print(f"| {baseline:g} | " + " | ".join(cells) + " |")
    return 0


# ---- analyze

def _analyze(args) -> int:
    from pipelines.monitoring.looks import run_look
    from steps.hsml.hs_codes import load_hs6_codes

    home = settings.hscode_home()
    store = PlanStore(home, args.endpoint_name)
    if args.plan is None:
        store.require_running()
    plan_path = args.plan or store.plan_path
    payload = read_plan_json(plan_path)
    looks_path = Path(plan_path).parent / "looks.jsonl"
    record = run_look(payload, str(plan_path), args.capture or home / "capture",
                      args.ground_truth or home / "ground-truth", args.endpoint_name,
                      valid_codes=load_hs6_codes(settings.HS2022_NOMENCLATURE), looks=read_looks(looks_path))
    looks_path.parent.mkdir(parents=True, exist_ok=True)
    with looks_path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, sort_keys=True) + "\n")
    if args.json:
        print(json.dumps(record["analysis"], indent=2, sort_keys=True))
        return 0
    for line in summarize_look(record):
        print(line)
    print(f"look recorded in {looks_path}")
    return 0


def summarize_look(record: dict) -> list[str]:
    analysis, read = record["analysis"], record["read"]
    lines = [f"experiment {record.get('experiment')}, look {analysis.get('look', '?')}: "
             f"{analysis['decision'].upper()}: {analysis['reason']}"]
    for name, arm in sorted((analysis.get("variants") or {}).items()):
        accuracy = arm.get("accuracy")
        hs4 = arm.get("accuracy_hs4")
        lines.append(f"  {name:<11} n {arm.get('n', 0):>6,}  labelled {arm.get('labelled', 0):>6,}  accuracy "
                     f"{'-' if accuracy is None else f'{accuracy:.4f}'}"
                     + ("" if hs4 is None else f"  hs4 {hs4:.4f}"))
    anova = analysis.get("anova") or {}
    if anova.get("f") is not None:
        lines.append(f"  one-way ANOVA F = {anova['f']:.4f}, p = {anova['p_value']:.4g}"
                     + (f" (two arms: F = z^2 = {analysis['z_squared']:.4f} up to 1 + O(1/N), z = {analysis['z']:.4f})"
                        if analysis.get("z") is not None else ""))
    difference = analysis.get("difference")
    if difference:
        lines.append(f"  difference {difference['of']}: {difference['estimate']:+.4f}, Newcombe "
                     f"{difference['confidence']:.1%} CI [{difference['ci_low']:+.4f}, {difference['ci_high']:+.4f}]")
    for name, guardrail in sorted((analysis.get("guardrails") or {}).items()):
        lines.append(f"  guardrail {name}: {'ok' if guardrail['ok'] else 'FAILED'}: {guardrail['detail']}")
    if analysis.get("srm_p_value") is not None:
        lines.append(f"  sample-ratio mismatch: chi-square p = {analysis['srm_p_value']:.4g} (invalid below 0.001)")
    if read.get("bad_capture_lines") or read.get("bad_ground_truth_lines"):
        lines.append(f"  skipped {read['bad_capture_lines']} capture and {read['bad_ground_truth_lines']} "
                     f"ground-truth line(s) that are not records (truncated?), e.g. {read['bad_line_examples'][0]}")
    return lines


# ---- decide

def _decide(args) -> int:
    from pipelines.monitoring.promotion import CONTINUE, PROMOTE, apply_decision

    store = PlanStore(settings.hscode_home(), args.endpoint_name)
    plan = store.require_running()
    mirror = _mirror(args)
    looks = store.looks() + (mirror.looks() if mirror is not None else [])
    outcome = apply_decision(plan, looks, _weights_store(args), _registry(args), args.group)
    print(f"experiment {plan.get('experiment_id')}: {outcome.decision}: {outcome.reason}")
    if outcome.decision == CONTINUE:
        print("nothing changed; the experiment goes on (next look: hscode ab analyze)")
        return 0
    shown = ", ".join(f"{k}={v:g}" for k, v in sorted(outcome.weights.items()))
    print(f"weights now {shown} (applied without a restart)")
    if outcome.registry_note:
        print(f"registry: {outcome.registry_note}")
    folder = store.close(outcome.record)
    if mirror is not None:
        mirror.close(plan, outcome.record)
    print(f"experiment closed: {folder}")
    models = plan.get("models") or {}
    if outcome.decision == PROMOTE:
        if args.backend == "local":
            print(f"at the next restart serve it as the champion: hscode serve --model {models.get(CHALLENGER)}")
        else:
            print("the challenger endpoint now takes all traffic; the deploy pipeline makes it the champion endpoint")
    return 0
