"""The monitoring pipeline's AnalyzeExperiment job: one look at the running A/B experiment.

    python steps/ab_analyze.py --plan-dir P --capture-dir C --ground-truth-dir G --reference-dir R \
        --endpoint-name hs-code --output-dir O

P holds plan.json (hscode ab start) and the earlier looks (looks/<execution>/analysis.json, this job's outputs;
or looks.jsonl), which are the analysis's history. Writes O/analysis.json: the look record, whose "analysis" is
steps/hsml/ab_analysis.py's result (decision, reason, variants, anova, srm_p_value, ...). The logic is in
pipelines/monitoring/looks.py (shipped in this job's code bundle beside steps/); this is the thin shell.

No experiment running (no plan.json in P: none started yet, or the last one closed by `hscode ab decide`) is a
normal outcome of a scheduled look, not an error: exit 0 and an analysis.json whose decision is "no-experiment".
The drift check runs in the same scheduled pipeline; between experiments this step must not fail every execution.
Only the running plan's own earlier looks are its history (P keeps closed experiments' looks too).
Bad input (a malformed plan, a variant without capture, codes that are not HS 2022) exits 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from steps.hsml.cli_errors import UsageError, run_command

PROGRAM = "ab_analyze.py"
NO_EXPERIMENT = "no-experiment"


def earlier_looks(plan_dir: Path) -> list[dict]:
    """looks.jsonl (the CLI's) and looks/*/analysis.json (this job's), as look records."""
    from pipelines.monitoring.plans import LOOKS_FILE, look_record, read_looks

    looks = read_looks(plan_dir / LOOKS_FILE)
    for path in sorted(plan_dir.glob("looks/*/analysis.json")):
        record = look_record(path.read_text(encoding="utf-8"))
        if record is None:
            print(f"{PROGRAM}: {path} is not a look record; left out of the history", file=sys.stderr)
            continue
        looks.append(record)
    return looks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan-dir", type=Path, required=True)
    parser.add_argument("--capture-dir", type=Path, required=True)
    parser.add_argument("--ground-truth-dir", type=Path, required=True)
    parser.add_argument("--reference-dir", type=Path, required=True)
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    return run_command(PROGRAM, lambda: analyze_job(args))


def no_experiment_record(plan_dir: Path, endpoint: str, now: datetime | None = None) -> dict:
    """The look record when no plan is running: nothing analysed, nothing to decide."""
    from pipelines.monitoring.plans import PLAN_FILE

    return {"recorded_at": (now or datetime.now(timezone.utc)).isoformat(), "endpoint": endpoint,
            "experiment": None, "plan": None,
            "analysis": {"decision": NO_EXPERIMENT,
                         "reason": f"no experiment is running ({PLAN_FILE} not in {plan_dir}): nothing to analyse; "
                                   "start one with `hscode ab start`"}}


def analyze_job(args) -> int:
    from pipelines.monitoring.looks import plan_digest, run_look
    from pipelines.monitoring.plans import PLAN_FILE, read_plan_json
    from steps.hsml.hs_codes import load_hs6_codes

    if not args.plan_dir.is_dir():
        raise UsageError(f"plan dir {args.plan_dir} does not exist: give the folder PlanUri is downloaded to")
    plan_path = args.plan_dir / PLAN_FILE
    if plan_path.is_file():
        payload = read_plan_json(plan_path)  # a malformed plan is still a UsageError (exit 2)
        digest = plan_digest(payload)
        history = [look for look in earlier_looks(args.plan_dir) if look.get("plan_sha256") == digest]
        record = run_look(payload, str(plan_path), args.capture_dir, args.ground_truth_dir, args.endpoint_name,
                          valid_codes=load_hs6_codes(args.reference_dir), looks=history)
    else:
        record = no_experiment_record(args.plan_dir, args.endpoint_name)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "analysis.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n",
                                                   encoding="utf-8")
    analysis = record["analysis"]
    if analysis["decision"] == NO_EXPERIMENT:
        print(f"{PROGRAM}: {analysis['reason']}")
        return 0
    read = record["read"]
    print(f"look at {record['experiment']}: decision {analysis['decision']}: {analysis['reason']}")
    if read["bad_capture_lines"] or read["bad_ground_truth_lines"]:
        print(f"skipped {read['bad_capture_lines']} capture and {read['bad_ground_truth_lines']} ground-truth "
              f"line(s) that are not records, e.g. {read['bad_line_examples'][:1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
