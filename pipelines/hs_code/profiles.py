"""Run profiles of the HS-code pipeline for `hscode pipeline run --local --profile NAME`.

quick: a few short trials over every model type (with and without the wide part), for a laptop.
full:  the definition's own tuning budget, trials as long as in AWS.
How long each takes on a given machine is measured, not promised here: see docs/ for the figures.
"""
from __future__ import annotations

from pipelines.local.pipeline_module import Profile
from steps.hsml.hyperparameters import QUICK_PROFILE_STATIC

_QUICK_TRIALS, _PARALLEL = "4", "2"

LOCAL_PROFILES = {
    "quick": Profile(
        "quick",
        f"{_QUICK_TRIALS} tuning trials of TextCNN/LSTM/DNN, {_PARALLEL} at a time, "
        f"at most {QUICK_PROFILE_STATIC['epochs']} epochs each",
        parameters={"MaxTuningJobs": _QUICK_TRIALS, "MaxParallelTuningJobs": _PARALLEL},
        build_options={"static_hyperparameters": dict(QUICK_PROFILE_STATIC), "search_space": "quick"},
    ),
    "full": Profile(
        "full",
        f"the definition's tuning budget (MaxTuningJobs' default), {_PARALLEL} at a time on this machine",
        parameters={"MaxParallelTuningJobs": _PARALLEL},
    ),
}
DEFAULT_LOCAL_PROFILE = "quick"
