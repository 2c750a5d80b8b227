"""Turning margin scores into probabilities that mean something: the softmax temperature fitted on validation.

The coverage curve auto-accepts predictions above a probability threshold, so a model trained on margins
(the squared hinge) needs its scores calibrated before export (models.serving_model applies the temperature).
"""
from __future__ import annotations

import numpy as np

TEMPERATURE_GRID = np.geomspace(0.1, 100.0, 61)


def fit_temperature(scores: np.ndarray, true_index: np.ndarray, offset: np.ndarray | None = None) -> float:
    """The softmax temperature that makes margin scores the best probabilities (lowest validation log-loss),
    searched on a log grid; rows whose code was never trained on (true_index -1) are left out: no temperature
    can help them. `offset` [classes]: subtracted after the temperature, as the served model's logit adjustment
    does (softmax(t * scores - tau * log prior)), so t is the best one for the probabilities served."""
    known = true_index >= 0
    if not known.any():
        return 1.0
    scores, true_index = scores[known].astype(np.float64), true_index[known]

    def log_loss(t: float) -> float:
        z = scores * t if offset is None else scores * t - offset
        z = z - z.max(axis=1, keepdims=True)
        log_p = z[np.arange(len(z)), true_index] - np.log(np.exp(z).sum(axis=1))
        return float(-log_p.mean())

    return float(min(TEMPERATURE_GRID, key=log_loss))
