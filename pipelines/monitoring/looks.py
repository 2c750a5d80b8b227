"""One look at a running experiment: read the observations, run the pre-registered analysis, and the record that
makes the look auditable (what was read, when, the plan's hash, the result).

The same function serves `hscode ab analyze` and the monitoring pipeline's job (steps/ab_analyze.py), so a
decision taken on a laptop and one taken on AWS come from the same code. History: the earlier looks' analyses,
oldest first, so that the analysis applies the boundary of the look it is at (the plan's looks, not the number of
times someone asked).

stdlib + steps/ + pipelines.monitoring.observations only (the Processing job ships it).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pipelines.monitoring.observations import read_observations
from steps.hsml.ab_analysis import analyze
from steps.hsml.ab_plan import plan_from_dict, plan_hash, plan_to_dict
from steps.hsml.cli_errors import UsageError


def parse_plan(payload: dict, where: str):
    """plan_from_dict with the place named in the error: a malformed plan is bad input (exit 2)."""
    try:
        return plan_from_dict(payload)
    except UsageError as error:
        raise UsageError(f"plan {where}: {error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"plan {where} is malformed: {type(error).__name__}: {error}") from None


def plan_digest(payload: dict) -> str:
    """ab_plan.plan_hash of the checked plan: the same hash the analysis records in its inputs."""
    return plan_hash(parse_plan(payload, "(running)"))


def history_of(looks: list[dict]) -> list[dict]:
    """The earlier looks' analyses, oldest first."""
    return [look["analysis"] for look in sorted(looks, key=lambda look: look.get("recorded_at", ""))
            if isinstance(look.get("analysis"), dict)]


def run_look(plan_payload: dict, plan_where: str, capture_root: str | Path, ground_truth_root: str | Path,
             endpoint: str, *, valid_codes=None, looks: list[dict] | None = None,
             now: datetime | None = None) -> dict:
    """The look record: {"recorded_at", "endpoint", "experiment", "plan_sha256", "plan", "capture",
    "ground_truth", "read" (counts and bad lines), "analysis" (analyze()'s dict)}."""
    now = now or datetime.now(timezone.utc)
    plan = parse_plan(plan_payload, plan_where)
    variants = sorted(plan_to_dict(plan)["weights"])
    observed = read_observations(capture_root, ground_truth_root, endpoint, variants, valid_codes=valid_codes,
                                 since=_started(plan_payload), until=now)
    analysis = analyze(plan, observed.observations, now=now, history=history_of(looks or []))
    analysis.setdefault("inputs", {})
    analysis["inputs"] = {**analysis["inputs"], "read": observed.summary()}
    return {"recorded_at": now.isoformat(), "endpoint": endpoint, "experiment": plan_payload.get("experiment_id"),
            "plan_sha256": plan_hash(plan), "plan": plan_where, "capture": str(capture_root),
            "ground_truth": str(ground_truth_root), "read": observed.summary(), "analysis": analysis}


def _started(plan_payload: dict) -> datetime | None:
    """Only traffic from the experiment's start counts (the capture may hold the champion's earlier requests)."""
    text = plan_payload.get("created")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"plan created {text!r} is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
