"""The three HS-code classifiers, keras.io style: one short builder per architecture over a shared input.

Input: word_ids [B, T] and ngram_ids [B, T, K] from the encoder (steps/hsml/encoder.py, tf_encoder.py).
`WordNgramEmbedding` turns them into [B, T, D]: word vector + mean of the word's known n-gram vectors (fastText
style), so a misspelt or unseen word still lands near the right one. Padding words embed as zeros, so
max-pooling and convolutions need no mask; the LSTM and mean-pooling get the mask explicitly.
"""
from __future__ import annotations

import keras
from keras import layers, ops

MODEL_TYPES = ("textcnn", "lstm", "dnn")


@keras.saving.register_keras_serializable(package="hsml")
class WordNgramEmbedding(layers.Layer):
    def __init__(self, word_vocab_size: int, ngram_vocab_size: int, embedding_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.word_vocab_size, self.ngram_vocab_size, self.embedding_dim = word_vocab_size, ngram_vocab_size, embedding_dim
        self.word_embedding = layers.Embedding(word_vocab_size, embedding_dim, name="word_embedding")
        self.ngram_embedding = layers.Embedding(ngram_vocab_size, embedding_dim, name="ngram_embedding")

    def call(self, word_ids, ngram_ids):
        ngram_mask = ops.expand_dims(ops.cast(ngram_ids > 0, self.compute_dtype), -1)  # [B, T, K, 1]
        ngram_sum = ops.sum(self.ngram_embedding(ngram_ids) * ngram_mask, axis=2)
        ngram_mean = ngram_sum / ops.maximum(ops.sum(ngram_mask, axis=2), 1.0)
        word_mask = ops.expand_dims(ops.cast(word_ids > 0, self.compute_dtype), -1)  # padding words -> zeros
        return (self.word_embedding(word_ids) + ngram_mean) * word_mask

    def get_config(self):
        return {**super().get_config(), "word_vocab_size": self.word_vocab_size,
                "ngram_vocab_size": self.ngram_vocab_size, "embedding_dim": self.embedding_dim}


def _inputs(max_length: int, ngrams_per_word: int):
    return (keras.Input(shape=(max_length,), dtype="int32", name="word_ids"),
            keras.Input(shape=(max_length, ngrams_per_word), dtype="int32", name="ngram_ids"))


def _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim):
    """[B, T, D] embeddings and the [B, T] mask of real (non-padding) words."""
    embedded = WordNgramEmbedding(word_vocab_size, ngram_vocab_size, embedding_dim, name="embedding")(*inputs)
    return embedded, ops.not_equal(inputs[0], 0)


def build_textcnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
                  embedding_dim=128, filters=256, kernel_sizes=(1, 2, 3), dropout=0.3, **_):
    """Kim (2014): parallel convolutions of several widths, each max-pooled over the sequence."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, _ = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim)
    pooled = [layers.GlobalMaxPooling1D()(layers.Conv1D(filters, k, padding="same", activation="relu")(x))
              for k in kernel_sizes]
    x = layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="hs_code")(x)
    return keras.Model(inputs, outputs, name="textcnn")


def build_lstm(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
               embedding_dim=128, units=128, dropout=0.3, **_):
    """Bidirectional LSTM over the (masked) words, mean- and max-pooled."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim)
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x, mask=mask)
    # Bidirectional zeroes the outputs at masked steps; max-pooling sees those zeros, mean-pooling skips them.
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="hs_code")(x)
    return keras.Model(inputs, outputs, name="lstm")


def build_dnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
              embedding_dim=128, units=512, dropout=0.3, **_):
    """Bag of embeddings (masked mean and max) through a dense hidden layer."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), layers.GlobalMaxPooling1D()(x)])
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(units, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="hs_code")(x)
    return keras.Model(inputs, outputs, name="dnn")


BUILDERS = {"textcnn": build_textcnn, "lstm": build_lstm, "dnn": build_dnn}


def build_model(model_type: str, **kwargs) -> keras.Model:
    if model_type not in BUILDERS:
        raise ValueError(f"model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    return BUILDERS[model_type](**kwargs)
