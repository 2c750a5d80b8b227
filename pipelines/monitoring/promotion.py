"""Apply the latest look's decision: promote the challenger to 100 %, or remove it, and close the experiment.

`promote`: weights champion=0, challenger=1 (the weights store: the serve weights file locally, re-read on change,
or the router's SSM parameter on AWS, re-read within 10 s; no restart either way), and the registry records why:
the challenger version is approved with reason "A/B <experiment>: promoted, <reason>" unless it already is.
`keep`: weights champion=1, challenger=0. Both write decision.json and close the experiment.
`continue` changes nothing (exit 0); `invalid` changes nothing and exits 1 with the reason: an invalid
experiment is not a verdict on the challenger, and someone must look at why (SRM, a guardrail).

On AWS the variant names stay: the challenger endpoint keeps serving the promoted model at 100 % until the
deploy pipeline (infra/deploy-on-approval.yml) deploys it as the champion; that swap is the deploy's job.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pipelines.monitoring.looks import plan_digest
from pipelines.registry.model import APPROVED, RegistryError
from steps.hsml.cli_errors import JobFailed, UsageError

PROMOTE, KEEP, CONTINUE, INVALID = "promote", "keep", "continue", "invalid"
DECIDED_BY = "hscode ab decide"


@dataclass
class Outcome:
    decision: str
    reason: str
    weights: dict[str, float] | None  # the weights written, None when nothing changed
    registry_note: str | None
    record: dict  # decision.json


def latest_look(looks: list[dict], plan: dict) -> dict:
    """The newest look at this plan; UsageError when there is none, or when it was taken with another plan."""
    if not looks:
        raise UsageError(f"no look at experiment {plan.get('experiment_id')} is recorded yet: run `hscode ab analyze`"
                         " (or wait for the monitoring pipeline's next scheduled look)")
    look = max(looks, key=lambda record: record.get("recorded_at", ""))
    if look.get("plan_sha256") != plan_digest(plan):
        raise UsageError(f"the latest look ({look.get('recorded_at')}) was taken with another plan than the running "
                         "one (its plan_sha256 differs): the plan must not change during an experiment; run "
                         "`hscode ab analyze` again")
    return look


def decision_weights(decision: str, plan: dict) -> dict[str, float] | None:
    champion, challenger = plan["champion"], plan["challenger"]
    if decision == PROMOTE:
        return {champion: 0.0, challenger: 1.0}
    if decision == KEEP:
        return {champion: 1.0, challenger: 0.0}
    return None


def apply_decision(plan: dict, looks: list[dict], weights_store, registry, group: str | None,
                   now: datetime | None = None) -> Outcome:
    """Apply the latest look's decision (see the module docstring); JobFailed for `invalid`."""
    look = latest_look(looks, plan)
    analysis = look["analysis"]
    decision, reason = analysis.get("decision"), analysis.get("reason", "")
    experiment = plan.get("experiment_id") or "experiment"
    if decision == INVALID:
        raise JobFailed(f"experiment {experiment} is invalid at the look of {look.get('recorded_at')}: {reason}. "
                        "Nothing was changed: fix the cause and start a new experiment (hscode ab start)")
    if decision not in (PROMOTE, KEEP, CONTINUE):
        raise UsageError(f"the latest look holds decision {decision!r}; expected promote, keep, continue or invalid")
    weights = decision_weights(decision, plan)
    note = None
    if weights is not None:
        weights_store.write(weights)
    if decision == PROMOTE:
        note = _record_promotion(registry, group, plan, f"A/B {experiment}: promoted, {reason}")
    record = {"experiment_id": experiment, "decision": decision, "reason": reason,
              "look_recorded_at": look.get("recorded_at"), "plan_sha256": look.get("plan_sha256"),
              "applied_at": (now or datetime.now(timezone.utc)).isoformat(), "weights": weights,
              "models": plan.get("models"), "registry": note}
    return Outcome(decision, reason, weights, note, record)


def _record_promotion(registry, group: str | None, plan: dict, reason: str) -> str:
    version = (plan.get("models") or {}).get(plan["challenger"])
    if version is None:
        return "the plan names no registry version for the challenger; nothing recorded in the registry"
    try:
        current = registry.describe(version, group)
        if current.status == APPROVED:
            return f"version {current.version} was already Approved; status left as it is (decision.json records why)"
        approved = registry.approve(version, by=DECIDED_BY, reason=reason, group=group)
    except RegistryError as error:
        raise JobFailed(f"the weights now send everything to the challenger, but the registry refused to record the "
                        f"promotion of version {version}: {error}") from None
    return f"version {approved.version} approved: {reason}"
