"""Logit adjustment of the served model and the head without a bias: the two ways out of the class prior."""
from __future__ import annotations

import numpy as np

from steps.hsml.export import _without_optimizer
from steps.hsml.models import build_model, log_prior, serving_model


def _inputs():
    return [np.array([[2, 3, 0, 0, 0], [4, 0, 0, 0, 0]], "int32"), np.full((2, 5, 4), 2, "int32")]


def test_served_probabilities_are_softmax_of_log_p_minus_tau_log_prior_and_survive_export():
    model = build_model("textcnn", num_classes=4, word_vocab_size=30, ngram_vocab_size=40, max_length=5,
                        ngrams_per_word=4, embedding_dim=8, filters=4, kernel_sizes=(1,))
    prior = log_prior(np.array([0, 0, 0, 0, 0, 0, 1, 2]), 4)  # class 3 never seen: add-one smoothed, not -inf
    np.testing.assert_allclose(np.exp(prior), np.array([7, 2, 2, 1]) / 12, rtol=1e-6)
    probabilities = model.predict(_inputs(), verbose=0)
    served = serving_model(model, prior=prior, tau=1.0)
    z = np.log(probabilities) - prior
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(served.predict(_inputs(), verbose=0), expected / expected.sum(1, keepdims=True),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_without_optimizer(served).predict(_inputs(), verbose=0),
                               served.predict(_inputs(), verbose=0), rtol=1e-5, atol=1e-7)
    assert serving_model(model, prior=prior, tau=0.0) is model  # tau 0: the model as trained


def test_output_bias_off_leaves_the_heads_without_bias():
    for wide in (False, True):
        model = build_model("dnn", num_classes=3, word_vocab_size=20, ngram_vocab_size=20, max_length=5,
                            ngrams_per_word=4, embedding_dim=4, units=0, wide=wide, output_bias=False)
        head = model.get_layer("deep_scores" if wide else "hs_code")
        assert not head.use_bias
