"""The training losses: softmax cross-entropy with label smoothing, and LinearSVC's one-vs-rest squared hinge."""
from __future__ import annotations

import keras
from keras import ops

from steps.hsml.cli_errors import UsageError

LOSSES = ("crossentropy", "squared_hinge")


def smoothed_sparse_crossentropy(label_smoothing: float):
    """Sparse cross-entropy on probabilities with label smoothing (keras' sparse loss has no smoothing, and
    one-hot targets over ~1.7k classes would be wasteful): (1-e)*CE(y) + e*mean over classes of -log p."""
    if label_smoothing <= 0:
        return keras.losses.SparseCategoricalCrossentropy()

    def loss(y_true, y_pred):
        log_p = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        true_index = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        nll = -ops.take_along_axis(log_p, ops.expand_dims(true_index, -1), axis=-1)[:, 0]
        return (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(log_p, axis=-1)

    return loss


def one_vs_rest_squared_hinge(y_true, scores):
    """LinearSVC's loss: for every class a binary margin, target +1 for the row's class and -1 for all others,
    squared hinge, summed over classes. Each rare class gets its own margin instead of competing in one softmax."""
    true_index = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    signs = 2.0 * ops.one_hot(true_index, ops.shape(scores)[-1], dtype=scores.dtype) - 1.0
    return ops.sum(ops.square(ops.relu(1.0 - signs * scores)), axis=-1)


def make_loss(name: str, label_smoothing: float):
    """The loss named by the `loss` hyper-parameter (label smoothing applies to cross-entropy only)."""
    if name == "squared_hinge":
        return one_vs_rest_squared_hinge
    if name == "crossentropy":
        return smoothed_sparse_crossentropy(label_smoothing)
    raise UsageError(f"loss {name!r} is not one of {', '.join(LOSSES)}")
