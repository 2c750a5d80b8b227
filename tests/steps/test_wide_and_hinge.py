"""The DNN's wide part (TF-IDF-weighted full-rank scores), the squared hinge loss and the calibrated softmax."""
from __future__ import annotations

import numpy as np

from steps.hsml.calibration import fit_temperature
from steps.hsml.export import _without_optimizer
from steps.hsml.losses import one_vs_rest_squared_hinge
from steps.hsml.models import WideScores, build_model, inverse_document_frequency, serving_model


def test_squared_hinge_is_one_vs_rest_with_plus_one_for_the_true_class_only():
    scores = np.array([[2.0, 0.5, -3.0], [0.2, -0.4, 1.5]], dtype="float32")
    labels = np.array([0, 1])
    loss = np.asarray(one_vs_rest_squared_hinge(labels, scores))
    signs = np.array([[1, -1, -1], [-1, 1, -1]], dtype="float32")
    expected = (np.maximum(0.0, 1.0 - signs * scores) ** 2).sum(axis=1)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)  # [0 + 2.25 + 0, 1.44 + 1.96 + 0]


def test_idf_counts_each_id_once_per_row_in_one_id_space_of_words_then_ngrams():
    word_ids = np.array([[2, 2, 0], [3, 1, 0]])  # row 0 repeats word 2; word id 1 (unknown) is counted too
    ngram_ids = np.array([[[2, 0], [2, 0], [0, 0]], [[3, 2], [0, 0], [0, 0]]])
    idf = inverse_document_frequency(word_ids, ngram_ids, word_vocab_size=4, ngram_vocab_size=4)
    smooth = lambda df: np.log(3 / (1 + df)) + 1  # noqa: E731  (n = 2 rows)
    assert idf.shape == (8,)
    np.testing.assert_allclose(idf[[2, 3]], [smooth(1), smooth(1)], rtol=1e-6)  # words 2 and 3: one row each
    np.testing.assert_allclose(idf[4 + 2], smooth(2), rtol=1e-6)  # n-gram 2 (id 6) is in both rows
    np.testing.assert_allclose(idf[4 + 3], smooth(1), rtol=1e-6)
    np.testing.assert_allclose(idf[5], smooth(0), rtol=1e-6)  # never seen: the largest idf


def test_wide_scores_are_the_normalised_tfidf_bag_times_the_kernel():
    layer = WideScores(word_vocab_size=5, ngram_vocab_size=6, num_classes=3)
    word_ids = np.array([[2, 4, 1, 0], [3, 0, 0, 0]], dtype="int32")
    ngram_ids = np.zeros((2, 4, 2), dtype="int32")
    ngram_ids[0, 0] = [2, 5]
    ngram_ids[1, 0] = [3, 0]
    layer(word_ids, ngram_ids)  # build
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(11, 3)).astype("float32")
    idf = rng.uniform(1, 3, size=11).astype("float32")
    layer.kernel.assign(kernel)
    layer.bias.assign([0.1, 0.2, 0.3])
    layer.set_idf(idf)

    def bag(ids):
        vector = np.zeros(11, "float32")
        for i in ids:
            vector[i] += idf[i]
        return vector / np.linalg.norm(vector)

    expected = np.stack([bag([2, 4, 5 + 2, 5 + 5]), bag([3, 5 + 3])]) @ kernel + [0.1, 0.2, 0.3]
    np.testing.assert_allclose(np.asarray(layer(word_ids, ngram_ids)), expected, rtol=1e-5)  # word id 1: ignored


def test_wide_model_scores_do_not_depend_on_padding():
    model = build_model("dnn", num_classes=4, word_vocab_size=30, ngram_vocab_size=40, max_length=8,
                        ngrams_per_word=5, embedding_dim=8, units=0, wide=True, scores_only=True)
    rng = np.random.default_rng(3)
    model.get_layer("wide_scores").kernel.assign(rng.normal(size=(70, 4)).astype("float32"))
    word_ids, ngram_ids = np.zeros((2, 8), "int32"), np.zeros((2, 8, 5), "int32")
    word_ids[0, :2], ngram_ids[0, :2, :3] = [5, 6], rng.integers(2, 40, (2, 3))
    word_ids[1, :7], ngram_ids[1, :7] = rng.integers(2, 30, 7), rng.integers(2, 40, (7, 5))
    together = model.predict([word_ids, ngram_ids], verbose=0)
    alone = model.predict([word_ids[:1], ngram_ids[:1]], verbose=0)
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-4, atol=1e-5)


def test_temperature_is_the_grid_point_with_the_lowest_validation_log_loss():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 200)
    scores = rng.normal(scale=0.1, size=(200, 5))
    scores[np.arange(200), truth] += 0.3  # small margins that are mostly right: sharpening (t > 1) helps
    chosen = fit_temperature(scores, truth)
    assert chosen > 1.0

    def log_loss(t):
        z = scores * t
        z = z - z.max(axis=1, keepdims=True)
        return -np.mean(z[np.arange(200), truth] - np.log(np.exp(z).sum(axis=1)))

    assert all(log_loss(chosen) <= log_loss(t) + 1e-12 for t in np.geomspace(0.1, 100.0, 61))
    unseen_only = fit_temperature(scores, np.full(200, -1))
    assert unseen_only == 1.0


def test_temperature_is_fitted_on_the_logit_adjusted_scores_it_will_serve():
    # 200 codes: 5 with the rows, 195 rare ones that the adjustment lifts by up to tau * 8 nats
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 5, 300)
    scores = rng.normal(scale=0.1, size=(300, 200))
    scores[np.arange(300), truth] += 0.3
    offset = np.concatenate([np.full(5, -1.0), np.full(195, -8.0)]) * 0.5  # tau 0.5 x log prior

    def served_log_loss(t):
        z = scores * t - offset
        z = z - z.max(axis=1, keepdims=True)
        return -np.mean(z[np.arange(300), truth] - np.log(np.exp(z).sum(axis=1)))

    adjusted, plain = fit_temperature(scores, truth, offset=offset), fit_temperature(scores, truth)
    assert adjusted > plain  # the lift of the rare codes needs sharper scores to keep the answer's mass
    assert served_log_loss(adjusted) < served_log_loss(plain)
    assert all(served_log_loss(adjusted) <= served_log_loss(t) + 1e-12 for t in np.geomspace(0.1, 100.0, 61))


def test_served_margin_model_gives_calibrated_probabilities_that_survive_the_export_copy():
    model = build_model("dnn", num_classes=6, word_vocab_size=30, ngram_vocab_size=40, max_length=5,
                        ngrams_per_word=4, embedding_dim=8, units=0, wide=True, scores_only=True)
    inputs = [np.array([[2, 3, 0, 0, 0], [4, 0, 0, 0, 0]], "int32"), np.full((2, 5, 4), 2, "int32")]
    scores = model.predict(inputs, verbose=0)
    served = serving_model(model, temperature=7.5)
    probabilities = served.predict(inputs, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    expected = np.exp(7.5 * scores - (7.5 * scores).max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-6)
    copy = _without_optimizer(served)  # what export saves: config + weights (temperature and idf included)
    np.testing.assert_allclose(copy.predict(inputs, verbose=0), probabilities, rtol=1e-5, atol=1e-7)
