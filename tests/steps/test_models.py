"""The three Keras architectures: shapes, the shared embedding block, and that each one actually learns."""
from __future__ import annotations

import numpy as np
import pytest

from steps.hsml.cli_errors import UsageError
from steps.hsml.models import MODEL_TYPES, WordNgramEmbedding, build_model
from tests.steps.model_fixtures import FAST_HYPERPARAMETERS, small_splits


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_each_builder_maps_ids_to_a_probability_distribution(model_type):
    model = build_model(model_type, num_classes=7, word_vocab_size=50, ngram_vocab_size=80, max_length=6,
                        ngrams_per_word=4, embedding_dim=8, filters=8, kernel_sizes=(1, 2), units=8)
    rng = np.random.default_rng(0)
    word_ids = rng.integers(0, 50, size=(5, 6)).astype("int32")
    word_ids[:, 3:] = 0  # padding
    ngram_ids = rng.integers(0, 80, size=(5, 6, 4)).astype("int32")
    probabilities = model.predict([word_ids, ngram_ids], verbose=0)
    assert probabilities.shape == (5, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_unknown_model_type_names_the_choices():
    with pytest.raises(UsageError, match="textcnn, lstm, dnn"):
        build_model("transformer", num_classes=2, word_vocab_size=5, ngram_vocab_size=5)


def test_embedding_is_word_vector_plus_mean_of_known_ngrams_and_zero_for_padding():
    layer = WordNgramEmbedding(word_vocab_size=10, ngram_vocab_size=10, embedding_dim=4)
    word_ids = np.array([[3, 4, 0]], dtype="int32")
    ngram_ids = np.array([[[5, 6, 0], [0, 0, 0], [7, 0, 0]]], dtype="int32")
    out = np.asarray(layer(word_ids, ngram_ids))
    words = np.asarray(layer.word_embedding.embeddings)
    grams = np.asarray(layer.ngram_embedding.embeddings)
    np.testing.assert_allclose(out[0, 0], words[3] + (grams[5] + grams[6]) / 2, rtol=1e-5)
    np.testing.assert_allclose(out[0, 1], words[4], rtol=1e-5)  # no known n-gram: the word vector alone
    np.testing.assert_allclose(out[0, 2], 0.0)  # padding word: zeros whatever its n-gram ids say


@pytest.mark.slow
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_each_model_type_learns_well_above_the_majority_baseline(model_type):
    from steps.hsml.training import train_model

    train, validation, encoder = small_splits()
    majority = validation["hs_code"].value_counts().iloc[0] / len(validation)
    epochs = {"textcnn": 4, "lstm": 6, "dnn": 8}[model_type]
    result = train_model(train, validation, encoder,
                         {**FAST_HYPERPARAMETERS, "model_type": model_type, "epochs": epochs, "patience": epochs},
                         log=lambda line: None)
    accuracy = result["metrics"]["val_accuracy"]
    assert accuracy >= majority + 0.25, f"{model_type}: val_accuracy {accuracy:.3f} vs majority {majority:.3f}"


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_output_does_not_depend_on_how_much_padding_a_row_has(model_type):
    """Serving trims each batch to its longest row: a description must score the same alone or beside a long one."""
    model = build_model(model_type, num_classes=5, word_vocab_size=40, ngram_vocab_size=60, max_length=10,
                        ngrams_per_word=6, embedding_dim=8, filters=8, kernel_sizes=(1, 2, 3), units=8)
    rng = np.random.default_rng(1)
    word_ids = np.zeros((2, 10), dtype="int32")
    ngram_ids = np.zeros((2, 10, 6), dtype="int32")
    word_ids[0, :3] = rng.integers(1, 40, 3)
    ngram_ids[0, :3, :2] = rng.integers(2, 60, (3, 2))
    word_ids[1, :9] = rng.integers(1, 40, 9)
    ngram_ids[1, :9, :] = rng.integers(2, 60, (9, 6))
    together = model.predict([word_ids, ngram_ids], verbose=0)
    alone = model.predict([word_ids[:1], ngram_ids[:1]], verbose=0)
    np.testing.assert_allclose(together[0], alone[0], rtol=1e-4, atol=1e-6)
