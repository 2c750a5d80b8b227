"""Run profiles: named sets of parameter overrides (and build options) for `hscode pipeline run --local`.

quick: a handful of short trials, for a laptop (about 15 minutes on 2 CPU cores).
full:  the definition's own tuning budget, trials as long as in AWS.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    # get_pipeline() options for the build; ones the current get_pipeline() does not accept are reported.
    build_options: dict = field(default_factory=dict)


PROFILES = {
    "quick": Profile(
        "quick", "4 tuning trials of TextCNN/DNN, 2 at a time, at most 8 epochs each",
        parameters={"MaxTuningJobs": "4", "MaxParallelTuningJobs": "2"},
        build_options={"static_hyperparameters": {"epochs": "8", "patience": "2"}, "search_space": "quick"},
    ),
    "full": Profile(
        "full", "the definition's tuning budget (12 trials), 2 at a time on this machine",
        parameters={"MaxParallelTuningJobs": "2"},
    ),
}
DEFAULT_PROFILE = "quick"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
