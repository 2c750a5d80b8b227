"""Word-level dropout: whole words (with their n-grams) vanish in training only, never a row's last word."""
from __future__ import annotations

import numpy as np

from steps.hsml.models import WordDropout


def test_training_drops_whole_words_and_their_ngrams_and_serving_drops_nothing():
    layer = WordDropout(0.5, seed=1)
    word_ids = np.array([[2, 3, 4, 5, 6, 7, 0, 0]] * 50 + [[9, 0, 0, 0, 0, 0, 0, 0]] * 50, "int32")
    ngram_ids = np.where(word_ids[..., None] > 0, word_ids[..., None] + 10, 0).repeat(3, axis=2).astype("int32")
    words, grams = (np.asarray(t) for t in layer(word_ids, ngram_ids, training=True))
    dropped = (word_ids > 0) & (words == 0)
    assert 0.3 < dropped[:50].sum() / (word_ids[:50] > 0).sum() < 0.7  # about the rate
    assert np.all(grams[dropped] == 0) and np.all(grams[words > 0] == ngram_ids[words > 0])
    assert np.all((words > 0).sum(axis=1) >= 1)  # a one-word row keeps its word
    assert np.all(words[words > 0] == word_ids[words > 0])  # kept words are unchanged
    served_words, served_grams = (np.asarray(t) for t in layer(word_ids, ngram_ids, training=False))
    np.testing.assert_array_equal(served_words, word_ids)
    np.testing.assert_array_equal(served_grams, ngram_ids)
