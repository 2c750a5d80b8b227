"""The three HS-code classifiers, keras.io style: one short builder per architecture over a shared input.

Input: word_ids [B, T] and ngram_ids [B, T, K] from the encoder (steps/hsml/encoder.py, tf_encoder.py).
`TrimPadding` first cuts both to the longest row of the batch (descriptions average 4 words, T is 48), which
makes training and serving several times cheaper; every layer after it is masked, so the output does not
depend on how much padding a row had. `WordNgramEmbedding` then gives [B, T, D]: word vector + mean of the
word's known n-gram vectors (fastText style), so a misspelt or unseen word still lands near the right one.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops


@keras.saving.register_keras_serializable(package="hsml")
class TrimPadding(layers.Layer):
    """Drop the all-padding tail of the batch: words beyond the longest row, n-gram slots beyond the fullest word."""

    def call(self, word_ids, ngram_ids):
        # The encoder left-aligns ids, so counting non-padding entries gives the used length.
        words = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(word_ids != 0, tf.int32), axis=1)), 1)
        grams = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(ngram_ids != 0, tf.int32), axis=2)), 1)
        return word_ids[:, :words], ngram_ids[:, :words, :grams]

    def compute_output_shape(self, word_ids_shape, ngram_ids_shape):
        return (word_ids_shape[0], None), (ngram_ids_shape[0], None, None)


@keras.saving.register_keras_serializable(package="hsml")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """Max over real words only (a row with no word gives zeros), so padding never wins the max."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # consumes the mask (given explicitly); nothing downstream needs one

    def compute_mask(self, x, mask=None):
        return None

    def call(self, x, mask):
        keep = ops.expand_dims(mask, -1)
        pooled = ops.max(ops.where(keep, x, ops.full_like(x, -1e9)), axis=1)
        return ops.where(ops.any(keep, axis=1), pooled, ops.zeros_like(pooled))

MODEL_TYPES = ("textcnn", "lstm", "dnn")


@keras.saving.register_keras_serializable(package="hsml")
class WordNgramEmbedding(layers.Layer):
    def __init__(self, word_vocab_size: int, ngram_vocab_size: int, embedding_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.word_vocab_size, self.ngram_vocab_size, self.embedding_dim = word_vocab_size, ngram_vocab_size, embedding_dim
        self.word_embedding = layers.Embedding(word_vocab_size, embedding_dim, name="word_embedding")
        self.ngram_embedding = layers.Embedding(ngram_vocab_size, embedding_dim, name="ngram_embedding")

    def build(self, word_ids_shape, ngram_ids_shape):
        self.word_embedding.build(word_ids_shape)
        self.ngram_embedding.build(ngram_ids_shape)

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


def _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout=0.0):
    """[B, T', D] embeddings of the trimmed batch and the [B, T'] mask of real (non-padding) words.

    embedding_dropout drops whole embedding channels for the whole description (spatial dropout): with 1-2
    rows per class the networks otherwise memorise single word vectors."""
    word_ids, ngram_ids = TrimPadding(name="trim_padding")(*inputs)
    embedded = WordNgramEmbedding(word_vocab_size, ngram_vocab_size, embedding_dim, name="embedding")(word_ids, ngram_ids)
    if embedding_dropout > 0:
        embedded = layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(embedded)
    return embedded, ops.not_equal(word_ids, 0)


def _heads(features, num_classes, auxiliary_classes=None):
    """The HS6 softmax ("hs_code", the only output serving uses), plus optional auxiliary softmaxes, e.g.
    {"hs4": 900, "hs2": 95}, trained on the parent heading/chapter so rare HS6 classes share their signal."""
    outputs = layers.Dense(num_classes, activation="softmax", name="hs_code")(features)
    if not auxiliary_classes:
        return outputs
    return {"hs_code": outputs, **{name: layers.Dense(n, activation="softmax", name=name)(features)
                                   for name, n in auxiliary_classes.items()}}


def build_textcnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
                  embedding_dim=128, filters=256, kernel_sizes=(1, 2, 3), dropout=0.3, embedding_dropout=0.0,
                  auxiliary_classes=None, bag_of_embeddings=False, **_):
    """Kim (2014): parallel convolutions of several widths, each max-pooled over the sequence. bag_of_embeddings
    adds the masked mean of the embeddings beside them (a fastText-like linear path, "wide and deep")."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout)
    pooled = [MaskedGlobalMaxPooling1D()(layers.Conv1D(filters, k, padding="same", activation="relu")(x), mask)
              for k in kernel_sizes]
    if bag_of_embeddings:
        pooled.append(layers.GlobalAveragePooling1D()(x, mask=mask))
    x = layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    x = layers.Dropout(dropout)(x)
    outputs = _heads(x, num_classes, auxiliary_classes)
    return keras.Model(inputs, outputs, name="textcnn")


def build_lstm(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
               embedding_dim=128, units=128, dropout=0.3, embedding_dropout=0.0, auxiliary_classes=None, **_):
    """Bidirectional LSTM over the (masked) words, mean- and max-pooled."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout)
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x, mask=mask)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), MaskedGlobalMaxPooling1D()(x, mask)])
    x = layers.Dropout(dropout)(x)
    outputs = _heads(x, num_classes, auxiliary_classes)
    return keras.Model(inputs, outputs, name="lstm")


def build_dnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length=48, ngrams_per_word=24,
              embedding_dim=128, units=512, dropout=0.3, embedding_dropout=0.0, auxiliary_classes=None, **_):
    """Bag of embeddings (masked mean and max) through a dense hidden layer; units=0 drops the hidden layer
    (fastText-like: pooled word + n-gram embeddings straight into the softmax, a linear model)."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), MaskedGlobalMaxPooling1D()(x, mask)])
    x = layers.Dropout(dropout)(x)
    if units > 0:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    outputs = _heads(x, num_classes, auxiliary_classes)
    return keras.Model(inputs, outputs, name="dnn")


BUILDERS = {"textcnn": build_textcnn, "lstm": build_lstm, "dnn": build_dnn}


def build_model(model_type: str, **kwargs) -> keras.Model:
    if model_type not in BUILDERS:
        raise ValueError(f"model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    return BUILDERS[model_type](**kwargs)


def serving_model(model: keras.Model) -> keras.Model:
    """The HS6 head alone (what export and predictors need) of a model trained with auxiliary heads."""
    if not isinstance(model.output, dict):
        return model
    return keras.Model(model.inputs, model.output["hs_code"], name=model.name)
