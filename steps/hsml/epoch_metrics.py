"""The validation metrics of every epoch: into Keras' logs (so EarlyStopping can monitor val_accuracy), onto a
progress line, and as the lines the tuner reads.

The tuner's MetricDefinitions (pipelines/hs_code/tuning.py) match `val_accuracy=([0-9\\.]+);` and
`val_macro_f1=([0-9\\.]+);` on lines of their own, and SageMaker keeps the last match: training prints them every
epoch and, once training is over, once more for the best epoch.
"""
from __future__ import annotations

import time
from typing import Callable

import keras
import numpy as np

from steps.hsml.durations import format_duration

METRIC_NAMES = ("val_accuracy", "val_macro_f1", "val_hs4_accuracy", "val_hs2_accuracy")


def classification_metrics(true_codes: list[str], predicted_codes: list[str]) -> dict:
    """HS6 accuracy and macro F1 (over the codes present in validation), plus HS4/HS2 accuracy."""
    from sklearn.metrics import f1_score

    true = np.asarray(true_codes, dtype=object)
    pred = np.asarray(predicted_codes, dtype=object)
    return {
        "val_accuracy": float(np.mean(true == pred)),
        "val_macro_f1": float(f1_score(true, pred, labels=sorted(set(true_codes)), average="macro", zero_division=0)),
        "val_hs4_accuracy": float(np.mean([t[:4] == p[:4] for t, p in zip(true_codes, predicted_codes)])),
        "val_hs2_accuracy": float(np.mean([t[:2] == p[:2] for t, p in zip(true_codes, predicted_codes)])),
    }


def metric_lines(metrics: dict) -> str:
    """The lines the tuner's MetricDefinitions regexes read."""
    return f"val_accuracy={metrics['val_accuracy']:.4f};\nval_macro_f1={metrics['val_macro_f1']:.4f};"


def predict_hs6(model, x) -> np.ndarray:
    """The HS6 output for x (probabilities, or margin scores) of a model that may also have auxiliary heads."""
    output = model.predict(x, batch_size=1024, verbose=0)
    return output["hs_code"] if isinstance(output, dict) else output


class ValidationMetrics(keras.callbacks.Callback):
    """Scores the validation rows after every epoch; keeps one history entry per epoch.

    Put it before EarlyStopping in the callback list: both see the same `logs`, filled here."""

    def __init__(self, x_val, val_codes: list[str], labels: list[str], epochs: int, log: Callable[[str], None]):
        super().__init__()
        self.x_val, self.val_codes, self.labels = x_val, val_codes, labels
        self.epochs, self.log = epochs, log
        self.history: list[dict] = []
        self.started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        scores = predict_hs6(self.model, self.x_val)
        metrics = classification_metrics(self.val_codes, [self.labels[i] for i in scores.argmax(axis=1)])
        logs.update(metrics)
        seconds = time.perf_counter() - self.started
        entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan"))),
                 "accuracy": float(logs.get("accuracy", logs.get("hs_code_accuracy", float("nan")))), **metrics,
                 "seconds": round(seconds, 2)}
        self.history.append(entry)
        mean_epoch = np.mean([h["seconds"] for h in self.history])
        self.log(f"epoch {epoch + 1}/{self.epochs} loss={entry['loss']:.4f} accuracy={entry['accuracy']:.4f} "
                 f"val_accuracy={metrics['val_accuracy']:.4f} val_macro_f1={metrics['val_macro_f1']:.4f} "
                 f"val_hs4_accuracy={metrics['val_hs4_accuracy']:.4f} {seconds:.1f}s "
                 f"ETA<={format_duration(mean_epoch * (self.epochs - epoch - 1))}")
        self.log(metric_lines(metrics))
