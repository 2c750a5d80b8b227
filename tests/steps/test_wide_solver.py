"""The wide part fitted by liblinear: the sparse bag is the layer's own weighting, the weights load and freeze."""
from __future__ import annotations

import numpy as np
import pytest

from steps.hsml.cli_errors import UsageError
from steps.hsml.models import WideScores, build_model, inverse_document_frequency
from steps.hsml.wide_solver import fit_wide, fit_wide_layer, wide_design_matrix


def _ids(rng, rows=40, words=6, grams=3, word_vocab=12, ngram_vocab=15):
    word_ids = np.zeros((rows, words), "int32")
    ngram_ids = np.zeros((rows, words, grams), "int32")
    for r in range(rows):
        length = rng.integers(1, words + 1)
        word_ids[r, :length] = rng.integers(1, word_vocab, length)  # id 1 (unknown word) included
        ngram_ids[r, :length, :2] = rng.integers(2, ngram_vocab, (length, 2))
        ngram_ids[r, 0, :] = [5, 5, 0]  # the same n-gram twice in one word: repeats must add up
    return word_ids, ngram_ids


def test_layer_output_equals_the_design_matrix_times_the_solvers_weights():
    rng = np.random.default_rng(0)
    word_ids, ngram_ids = _ids(rng)
    y = rng.integers(0, 4, len(word_ids))
    idf = inverse_document_frequency(word_ids, ngram_ids, 12, 15)
    matrix = wide_design_matrix(word_ids, ngram_ids, idf, 12)
    kernel, bias = fit_wide(matrix, y, 5, solver="linearsvc", c=1.0)  # class 4 has no row
    layer = WideScores(word_vocab_size=12, ngram_vocab_size=15, num_classes=5)
    layer(word_ids, ngram_ids)  # build
    layer.set_idf(idf)
    layer.kernel.assign(kernel)
    layer.bias.assign(bias)
    np.testing.assert_allclose(np.asarray(layer(word_ids, ngram_ids)), matrix @ kernel + bias, rtol=1e-4, atol=1e-5)
    assert np.all(kernel[:, 4] == 0) and bias[4] == -1.0  # a class without rows is never the top score
    assert matrix[:, 1].nnz == 0  # the unknown word weighs nothing


def test_solver_weights_separate_the_training_rows_like_liblinear_does():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(1)
    word_ids, ngram_ids = _ids(rng, rows=60)
    y = np.array([row[0] % 3 for row in word_ids])  # the first word decides the class: learnable
    idf = inverse_document_frequency(word_ids, ngram_ids, 12, 15)
    matrix = wide_design_matrix(word_ids, ngram_ids, idf, 12)
    kernel, bias = fit_wide(matrix, y, 3, solver="linearsvc", c=0.5)
    reference = LinearSVC(C=0.5, random_state=42).fit(matrix, y)
    np.testing.assert_allclose(matrix @ kernel + bias, reference.decision_function(matrix), rtol=1e-4, atol=1e-5)
    logistic_kernel, logistic_bias = fit_wide(matrix, y, 3, solver="logistic", c=10.0)
    logistic = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear", random_state=42)).fit(matrix, y)
    np.testing.assert_allclose(matrix @ logistic_kernel + logistic_bias, logistic.decision_function(matrix),
                               rtol=1e-4, atol=1e-5)


def test_two_classes_give_two_columns_of_opposite_scores():
    rng = np.random.default_rng(2)
    word_ids, ngram_ids = _ids(rng, rows=20)
    y = (word_ids[:, 0] % 2).astype(int)
    matrix = wide_design_matrix(word_ids, ngram_ids, np.ones(27, "float32"), 12)
    kernel, bias = fit_wide(matrix, y, 2, solver="linearsvc")
    scores = matrix @ kernel + bias
    np.testing.assert_allclose(scores[:, 0], -scores[:, 1], rtol=1e-6)


def test_bad_solver_settings_are_usage_errors():
    matrix = wide_design_matrix(np.array([[2, 3]]), np.zeros((1, 2, 1), "int32"), np.ones(6, "float32"), 4)
    with pytest.raises(UsageError, match="wide_solver 'adam'"):
        fit_wide(matrix, np.array([0]), 2, solver="adam")
    with pytest.raises(UsageError, match="wide_c must be positive"):
        fit_wide(matrix, np.array([0]), 2, c=0)


def test_fitted_wide_layer_is_frozen_so_the_optimizer_never_sees_its_kernel():
    model = build_model("dnn", num_classes=3, word_vocab_size=12, ngram_vocab_size=15, max_length=6,
                        ngrams_per_word=3, embedding_dim=4, units=0, wide=True, scores_only=True)
    rng = np.random.default_rng(3)
    word_ids, ngram_ids = _ids(rng, rows=30)
    layer = model.get_layer("wide_scores")
    layer.set_idf(inverse_document_frequency(word_ids, ngram_ids, 12, 15))
    fit_wide_layer(layer, word_ids, ngram_ids, rng.integers(0, 3, 30), solver="linearsvc", c=0.5, log=lambda _: None)
    trainable = {id(w) for w in model.trainable_weights}
    assert id(layer.kernel) not in trainable and id(layer.bias) not in trainable
    assert np.abs(layer.kernel.numpy()).sum() > 0


def test_a_layer_over_some_columns_scores_like_the_full_layer_and_the_rest_as_absent(tmp_path):
    import keras

    from steps.hsml.models import ABSENT_SCORE

    rng = np.random.default_rng(4)
    word_ids, ngram_ids = _ids(rng, rows=40)
    y = np.array([row[0] % 3 for row in word_ids]) * 2  # classes 0, 2, 4 of 6 have rows
    idf = inverse_document_frequency(word_ids, ngram_ids, 12, 15)
    full = WideScores(word_vocab_size=12, ngram_vocab_size=15, num_classes=6)
    compact = WideScores(word_vocab_size=12, ngram_vocab_size=15, num_classes=6, columns=[0, 2, 4])
    for layer in (full, compact):
        layer(word_ids, ngram_ids)
        layer.set_idf(idf)
        fit_wide_layer(layer, word_ids, ngram_ids, y, solver="linearsvc", c=0.5, log=lambda _: None)
    assert compact.kernel.shape == (27, 3)  # a column per class with rows, not per class
    expected, scored = np.asarray(full(word_ids, ngram_ids)), np.asarray(compact(word_ids, ngram_ids))
    np.testing.assert_allclose(scored[:, [0, 2, 4]], expected[:, [0, 2, 4]], rtol=1e-4, atol=1e-5)
    assert np.all(scored[:, [1, 3, 5]] == ABSENT_SCORE)

    model = build_model("dnn", num_classes=6, word_vocab_size=12, ngram_vocab_size=15, max_length=6,
                        ngrams_per_word=3, embedding_dim=4, units=0, wide=True, scores_only=True,
                        wide_columns=[0, 2, 4])
    model.get_layer("wide_scores").set_idf(idf)
    fit_wide_layer(model.get_layer("wide_scores"), word_ids, ngram_ids, y, solver="linearsvc", c=0.5,
                   log=lambda _: None)
    model.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    assert reloaded.get_layer("wide_scores").columns == [0, 2, 4]
    np.testing.assert_allclose(reloaded.predict([word_ids, ngram_ids], verbose=0),
                               model.predict([word_ids, ngram_ids], verbose=0), rtol=1e-5, atol=1e-6)


def test_a_class_outside_the_layers_columns_cannot_be_fitted():
    rng = np.random.default_rng(5)
    word_ids, ngram_ids = _ids(rng, rows=20)
    layer = WideScores(word_vocab_size=12, ngram_vocab_size=15, num_classes=4, columns=[0, 1])
    layer(word_ids, ngram_ids)
    with pytest.raises(ValueError, match="not among the layer's columns"):
        fit_wide_layer(layer, word_ids, ngram_ids, rng.integers(0, 3, 20), solver="linearsvc", c=0.5,
                       log=lambda _: None)
