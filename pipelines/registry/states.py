"""The approval state machine, the same for both back ends.

It mirrors what SageMaker Model Registry allows through UpdateModelPackage:

    PendingManualApproval ──► Approved
    PendingManualApproval ──► Rejected
    Approved ◄──────────────► Rejected

Nothing goes back to PendingManualApproval, and a no-op (Approved → Approved) is refused too, so an
approval always records a real decision.
"""
from __future__ import annotations

from pipelines.registry.model import APPROVED, PENDING, REJECTED, STATUSES, IllegalTransition

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({REJECTED}),
    REJECTED: frozenset({APPROVED}),
}


def check_transition(arn: str, current: str, target: str) -> None:
    """Raise IllegalTransition, naming what is allowed, unless current → target is a legal move."""
    if target not in STATUSES:
        raise IllegalTransition(f"unknown status {target!r}; statuses are {', '.join(STATUSES)}")
    if current not in ALLOWED_TRANSITIONS:
        raise IllegalTransition(f"{arn} has unknown status {current!r}; statuses are {', '.join(STATUSES)}")
    allowed = ALLOWED_TRANSITIONS[current]
    if target in allowed:
        return
    if target == current:
        problem = f"{arn} is already {current}"
    else:
        problem = f"{arn} cannot go from {current} to {target}"
    raise IllegalTransition(f"{problem}; from {current} it can only go to {' or '.join(sorted(allowed))}")


def check_initial_status(status: str) -> None:
    if status not in STATUSES:
        raise IllegalTransition(f"unknown approval status {status!r}; register with one of {', '.join(STATUSES)}")
