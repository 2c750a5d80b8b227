"""The wide part fitted by a convex solver: WideScores' bag as a scipy.sparse matrix, liblinear on it, the
weights loaded into the layer and frozen.

Training WideScores' kernel ([vocabulary, classes], ~31M weights on the bundled data) with Adam costs most of an
epoch: Keras' Adam updates both moment tensors of every weight on every step even though a batch touches a few
hundred ids (docs/models.md has the measurement). The wide part is a linear model over a sparse bag, so the
solver fits it exactly in seconds, and the deep part then trains on top of the fixed wide scores (a residual).

`wide_design_matrix` is the layer's own weighting (WideScores.call), so `X @ kernel + bias` is what the layer
outputs for the solver's weights (tests/steps/test_wide_solver.py checks it).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from steps.hsml.cli_errors import UsageError
from steps.hsml.encoder import UNKNOWN_ID

SOLVERS = ("linearsvc", "logistic")


def wide_ids(word_ids: np.ndarray, ngram_ids: np.ndarray, word_vocab_size: int) -> np.ndarray:
    """[rows, N] ids in the layer's one id space: words, then n-grams shifted by the word vocabulary."""
    rows = len(word_ids)
    shifted = np.where(ngram_ids > 0, ngram_ids.astype(np.int64) + word_vocab_size, 0).reshape(rows, -1)
    return np.concatenate([word_ids.astype(np.int64), shifted], axis=1)


def wide_design_matrix(word_ids: np.ndarray, ngram_ids: np.ndarray, idf: np.ndarray,
                       word_vocab_size: int) -> sp.csr_matrix:
    """The [rows, vocabulary] TF-IDF bag WideScores multiplies by its kernel: each occurrence of an id weighs its
    idf (padding and the unknown word id nothing), the occurrences' vector is L2-normalised, repeats add up."""
    ids = wide_ids(word_ids, ngram_ids, word_vocab_size)
    weights = idf[ids] * (ids > UNKNOWN_ID)
    weights /= np.maximum(np.linalg.norm(weights, axis=1, keepdims=True), 1e-6)
    row, position = np.nonzero(weights)
    matrix = sp.csr_matrix((weights[row, position], (row, ids[row, position])), shape=(len(ids), len(idf)),
                           dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def fit_wide(matrix: sp.csr_matrix, y: np.ndarray, num_classes: int, *, solver: str = "linearsvc", c: float = 0.5,
             intercept: bool = True, balanced: bool = False, sample_weight: np.ndarray | None = None,
             seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(kernel [vocabulary, num_classes], bias [num_classes]) of a one-vs-rest linear model on the bag.

    linearsvc: liblinear's squared hinge (the loss the margin DNN trains with), C = c. logistic: liblinear's
    one-vs-rest logistic regression, C = c. A class with no training row keeps zero weights and a bias of -1
    (never predicted), so the kernel's columns always line up with the model's labels. intercept=False fits
    without a bias: the bag is L2-normalised, so on long text every score shrinks by the same factor, and without
    a bias that cannot hand the answer to the class with the largest bias (the commonest one). balanced weighs
    each class's rows by n / (classes * rows of the class), so the commonest code cannot spread weight over every
    common n-gram."""
    if solver not in SOLVERS:
        raise UsageError(f"wide_solver {solver!r} is not one of {', '.join(SOLVERS)}")
    if c <= 0:
        raise UsageError(f"wide_c must be positive (got {c})")
    present = np.unique(y)
    kernel = np.zeros((matrix.shape[1], num_classes), np.float32)
    bias = np.full(num_classes, -1.0, np.float32)
    if len(present) == 1:  # one class: every row is it
        bias[present[0]] = 1.0
        return kernel, bias
    if solver == "linearsvc":
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=c, loss="squared_hinge", fit_intercept=intercept, random_state=seed,
                          class_weight="balanced" if balanced else None)
        model.fit(matrix, y, sample_weight=sample_weight)
    else:
        import sklearn
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        with sklearn.config_context(enable_metadata_routing=True):  # routes sample_weight to each binary model
            binary = LogisticRegression(C=c, solver="liblinear", fit_intercept=intercept,
                                        class_weight="balanced" if balanced else None, random_state=seed).set_fit_request(sample_weight=True)
            model = OneVsRestClassifier(binary).fit(matrix, y, sample_weight=sample_weight)
    coef, fitted_bias = _coefficients(model, len(present))
    kernel[:, model.classes_] = coef.T
    bias[model.classes_] = fitted_bias
    return kernel, bias


def _coefficients(model, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(coef [classes, vocabulary], intercept [classes]) of a fitted LinearSVC or one-vs-rest logistic model."""
    if hasattr(model, "estimators_"):  # OneVsRestClassifier: one binary model per class (one for two classes)
        coef = np.vstack([e.coef_ for e in model.estimators_])
        intercept = np.concatenate([np.ravel(np.broadcast_to(e.intercept_, (1,))) for e in model.estimators_])
    else:
        coef = model.coef_
        intercept = np.ravel(np.broadcast_to(model.intercept_, (len(coef),)))  # 0.0 without an intercept
    if classes == 2:  # sklearn fits one model for two classes: the first class's scores are its negation
        return np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef, intercept


def load_frozen(layer, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Put the solver's weights into a built WideScores layer and freeze it: the deep part trains around it."""
    layer.kernel.assign(kernel.astype(np.float32))
    layer.bias.assign(bias.astype(np.float32))
    layer.trainable = False


def fit_wide_layer(layer, word_ids: np.ndarray, ngram_ids: np.ndarray, y: np.ndarray, *, solver: str, c: float,
                   intercept: bool = True, balanced: bool = False, sample_weight: np.ndarray | None = None,
                   seed: int = 42, log=print) -> dict:
    """Fit the built WideScores layer's weights with the solver on these rows (its idf already set) and freeze it.
    Returns what was fitted (rows, vocabulary, seconds) for the training log."""
    import time

    started = time.perf_counter()
    matrix = wide_design_matrix(word_ids, ngram_ids, layer.idf.numpy(), layer.word_vocab_size)
    classes = layer.num_classes
    if layer.columns is not None:  # a kernel over some classes: the solver numbers them by kernel column
        column_of = {label: column for column, label in enumerate(layer.columns)}
        if not set(np.unique(y).tolist()) <= column_of.keys():
            raise ValueError("fit_wide_layer: a training row's class is not among the layer's columns")
        y, classes = np.array([column_of[label] for label in y.tolist()], np.int64), len(layer.columns)
    kernel, bias = fit_wide(matrix, y, classes, solver=solver, c=c, intercept=intercept,
                            balanced=balanced, sample_weight=sample_weight, seed=seed)
    load_frozen(layer, kernel, bias)
    seconds = time.perf_counter() - started
    log(f"wide part: {solver} (C={c:g}{'' if intercept else ', no intercept'}{', balanced' if balanced else ''}) on {matrix.shape[0]} rows x "
        f"{matrix.shape[1]} ids, {seconds:.1f}s; frozen")
    return {"rows": matrix.shape[0], "vocabulary": matrix.shape[1], "seconds": round(seconds, 2)}
