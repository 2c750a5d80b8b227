"""Training options against overfitting: label smoothing, nomenclature sample weights, auxiliary HS4/HS2 heads."""
from __future__ import annotations

import numpy as np
import pandas as pd

from steps.hsml import losses, training
from steps.hsml.models import build_model, serving_model
from tests.steps.model_fixtures import FAST_HYPERPARAMETERS, small_splits


def test_label_smoothing_loss_matches_its_formula_and_zero_smoothing_is_plain_crossentropy():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    labels = np.array([0, 1])
    smoothed = np.asarray(losses.smoothed_sparse_crossentropy(0.1)(labels, probabilities))
    log_p = np.log(probabilities)
    expected = 0.9 * -log_p[[0, 1], labels] - 0.1 * log_p.mean(axis=1)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-5)
    plain = float(np.asarray(losses.smoothed_sparse_crossentropy(0.0)(labels, probabilities)))
    assert abs(plain - float(np.mean(-log_p[[0, 1], labels]))) < 1e-5


def test_nomenclature_rows_get_their_weight_and_real_rows_keep_one():
    frame = pd.DataFrame({"source": ["wco_hs2022", "us_hts_2024", "uk_hmrc_search_references", "zauba"]})
    np.testing.assert_allclose(training.nomenclature_sample_weights(frame, 0.2), [0.2, 0.2, 1.0, 1.0])
    assert training.nomenclature_sample_weights(frame, 1.0) is None
    assert training.nomenclature_sample_weights(frame.iloc[2:], 0.2) is None  # no official rows: no weights


def test_auxiliary_heads_train_but_only_the_hs6_head_is_served():
    model = build_model("dnn", num_classes=7, word_vocab_size=50, ngram_vocab_size=80, max_length=6,
                        ngrams_per_word=4, embedding_dim=8, units=0, auxiliary_classes={"hs4": 3, "hs2": 2})
    assert set(model.output) == {"hs_code", "hs4", "hs2"}
    served = serving_model(model)
    probabilities = served.predict([np.ones((2, 6), "int32"), np.ones((2, 6, 4), "int32")], verbose=0)
    assert probabilities.shape == (2, 7)


def test_training_with_every_regulariser_on_returns_an_hs6_model():
    train, validation, encoder = small_splits()
    train = train.assign(source=np.where(np.arange(len(train)) % 5 == 0, "wco_hs2022", train["source"]))
    result = training.train_model(
        train, validation, encoder,
        {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 1, "label_smoothing": 0.1, "weight_decay": 0.01,
         "embedding_dropout": 0.1, "aux_loss_weight": 0.3, "nomenclature_weight": 0.2},
        log=lambda line: None)
    assert result["model"].output_shape == (None, len(result["labels"]))
    assert not np.isnan(result["history"][0]["loss"]) and not np.isnan(result["history"][0]["accuracy"])
