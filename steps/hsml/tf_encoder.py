"""The encoder's id mapping as TensorFlow ops, so the exported SavedModel can take raw strings.

`TextEncoder.encode` (steps/hsml/encoder.py) is the reference; this module builds the same mapping from the same
encoder.json with tf.strings ops and static hash tables (tests assert both agree on real descriptions).
Python text normalisation cannot run in TF Serving's graph, so the graph only lowercases and splits on whitespace,
which is idempotent on text that `normalize_description` already produced (the serving hook normalises first).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from steps.hsml.encoder import FIRST_ID, PAD_ID, UNKNOWN_ID, TextEncoder


def _table(keys: list[str], default: int) -> tf.lookup.StaticHashTable:
    if not keys:  # a table needs at least one key; this one can never match a real token
        keys = ["\x00"]
    values = tf.range(FIRST_ID, FIRST_ID + len(keys), dtype=tf.int64)
    initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.string), values)
    return tf.lookup.StaticHashTable(initializer, default_value=default)


class TFTextVectorizer(tf.Module):
    """Batch of normalised strings -> (word_ids int32 [B, T], ngram_ids int32 [B, T, K])."""

    def __init__(self, encoder: TextEncoder, max_length: int | None = None, name: str = "text_vectorizer"):
        super().__init__(name=name)
        self.max_length = min(max_length or encoder.max_words, encoder.max_words)
        self.ngrams_per_word = encoder.max_ngrams_per_word
        self.ngram_sizes = list(range(encoder.ngram_min, encoder.ngram_max + 1))
        self.word_table = _table(encoder.word_vocab, UNKNOWN_ID)
        self.ngram_table = _table(encoder.ngram_vocab, -1)  # -1 marks an unknown n-gram, dropped below

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        words = tf.strings.split(tf.strings.lower(texts, encoding="utf-8"))[:, : self.max_length]  # ragged [B, W]
        word_ids = tf.cast(self.word_table.lookup(words), tf.int32)

        flat_words = words.flat_values  # [N] every kept word of the batch
        chars = tf.strings.unicode_split(tf.strings.join(["<", flat_words, ">"]), "UTF-8")  # ragged [N, C]
        # Shortest n first, then position order: the same order as TextEncoder.char_ngrams.
        grams = tf.concat([tf.strings.ngrams(chars, n, separator="") for n in self.ngram_sizes], axis=1)
        gram_ids = self.ngram_table.lookup(grams)
        gram_ids = tf.ragged.boolean_mask(gram_ids, gram_ids >= FIRST_ID)[:, : self.ngrams_per_word]
        gram_ids = tf.cast(gram_ids.to_tensor(PAD_ID, shape=[None, self.ngrams_per_word]), tf.int32)  # [N, K]

        batch = tf.shape(texts, out_type=tf.int64)[0]
        word_ids = word_ids.to_tensor(PAD_ID, shape=tf.stack([batch, self.max_length]))
        ngram_ids = words.with_flat_values(gram_ids).to_tensor(
            PAD_ID, shape=tf.stack([batch, self.max_length, self.ngrams_per_word])
        )
        return word_ids, ngram_ids


ENCODE_CHUNK = 8192


def encode_texts(vectorizer: TFTextVectorizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(word_ids, ngram_ids) as numpy, through the very graph that is exported (so training sees what serving
    computes), in chunks so a large training split never builds one huge string tensor."""
    words, ngrams = [], []
    for start in range(0, len(texts), ENCODE_CHUNK):
        w, g = vectorizer(texts[start : start + ENCODE_CHUNK])
        words.append(w.numpy())
        ngrams.append(g.numpy())
    return np.concatenate(words), np.concatenate(ngrams)
