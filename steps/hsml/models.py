"""The three HS-code classifiers, keras.io style: one short builder per architecture over a shared input.

Input: word_ids [B, T] and ngram_ids [B, T, K] from the encoder (steps/hsml/encoder.py, tf_encoder.py).
`TrimPadding` first cuts both to the longest row of the batch (descriptions average 4 words, T is max_length), which
makes training and serving several times cheaper; every layer after it is masked, so the output does not
depend on how much padding a row had. `WordNgramEmbedding` then gives [B, T, D]: word vector + mean of the
word's known n-gram vectors (fastText style), so a misspelt or unseen word still lands near the right one.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from steps.hsml.cli_errors import UsageError
from steps.hsml.hyperparameters import parse_kernel_sizes, resolve_hyperparameters


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


@keras.saving.register_keras_serializable(package="hsml")
class WordDropout(layers.Layer):
    """In training only, each real word (with its n-grams) is dropped with probability `rate`; a row that would
    lose every word keeps them all. The networks then cannot hang a class on one word, and learn that text with
    words they do not need (listing filler) still has the product words in it. Serving never drops anything."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, word_ids, ngram_ids, training=None):
        if not training or self.rate <= 0:
            return word_ids, ngram_ids
        real = ops.not_equal(word_ids, 0)
        keep = ops.logical_and(keras.random.uniform(ops.shape(word_ids), seed=self.seed_generator) >= self.rate, real)
        keep = ops.where(ops.any(keep, axis=1, keepdims=True), keep, real)
        return ops.where(keep, word_ids, 0), ops.where(ops.expand_dims(keep, -1), ngram_ids, 0)

    def compute_output_shape(self, word_ids_shape, ngram_ids_shape):
        return word_ids_shape, ngram_ids_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def _inputs(max_length: int, ngrams_per_word: int):
    return (keras.Input(shape=(max_length,), dtype="int32", name="word_ids"),
            keras.Input(shape=(max_length, ngrams_per_word), dtype="int32", name="ngram_ids"))


def _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout=0.0, word_dropout=0.0):
    """[B, T', D] embeddings of the trimmed batch and the [B, T'] mask of real (non-padding) words.

    embedding_dropout drops whole embedding channels for the whole description (spatial dropout): with 1-2
    rows per class the networks otherwise memorise single word vectors. word_dropout drops whole words
    (WordDropout, after the trim: the trim needs left-aligned ids)."""
    word_ids, ngram_ids = TrimPadding(name="trim_padding")(*inputs)
    if word_dropout > 0:
        word_ids, ngram_ids = WordDropout(word_dropout, name="word_dropout")(word_ids, ngram_ids)
    embedded = WordNgramEmbedding(word_vocab_size, ngram_vocab_size, embedding_dim, name="embedding")(word_ids, ngram_ids)
    if embedding_dropout > 0:
        embedded = layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(embedded)
    return embedded, ops.not_equal(word_ids, 0)


def _outputs(inputs, features, num_classes, word_vocab_size, ngram_vocab_size, auxiliary_classes, wide, scores_only,
             output_bias=True, wide_columns=None):
    """Every builder's outputs: the heads over its pooled features, plus the wide scores when `wide` is on
    (over the classes `wide_columns`, default all: WideScores.columns)."""
    wide_scores = None
    if wide:
        word_ids, ngram_ids = TrimPadding(name="trim_padding_wide")(*inputs)
        wide_scores = WideScores(word_vocab_size, ngram_vocab_size, num_classes, columns=wide_columns,
                                 name="wide_scores")(word_ids, ngram_ids)
    return _heads(features, num_classes, auxiliary_classes, wide_scores, scores_only, output_bias)


def _heads(features, num_classes, auxiliary_classes=None, wide_scores=None, scores_only=False, output_bias=True):
    """The HS6 output ("hs_code", the only output serving uses), plus optional auxiliary outputs, e.g.
    {"hs4": 900, "hs2": 95}, trained on the parent heading/chapter so rare HS6 classes share their signal.

    wide_scores (from WideScores) are added to the HS6 logits: "wide and deep". scores_only leaves the outputs as
    raw scores for a margin loss (squared hinge); `serving_model` later turns them into calibrated probabilities."""
    activation = None if scores_only else "softmax"
    if wide_scores is None:
        outputs = layers.Dense(num_classes, activation=activation, use_bias=output_bias, name="hs_code")(features)
    else:
        deep = layers.Dense(num_classes, use_bias=output_bias, name="deep_scores")(features)
        logits = layers.Add(name="wide_and_deep")([deep, wide_scores])
        outputs = layers.Activation(activation or "linear", name="hs_code")(logits)
    if not auxiliary_classes:
        return outputs
    return {"hs_code": outputs, **{name: layers.Dense(n, activation=activation, name=name)(features)
                                   for name, n in auxiliary_classes.items()}}


ABSENT_SCORE = -1.0  # the wide score of a class outside WideScores.columns: the solver's score of a class with no row


@keras.saving.register_keras_serializable(package="hsml")
class WideScores(layers.Layer):
    """Linear class scores over the TF-IDF-weighted bag of every word and character n-gram id of the text.

    Full rank (one weight per id and class, like a linear SVM's) where the embeddings are low rank: with 1-2 rows
    per class, a class often hangs on one rare n-gram that a 200-d embedding cannot keep apart from the others.
    Weights: the id's inverse document frequency on the training rows (set by `set_idf`, not trained), the bag
    L2-normalised, as scikit-learn's TfidfVectorizer does; word id 1 (unknown word) and padding carry nothing.
    Training fits kernel and bias with a convex solver and freezes them (steps/hsml/wide_solver.py); `l2` is kept
    only so models saved with it still load."""

    def __init__(self, word_vocab_size: int, ngram_vocab_size: int, num_classes: int, l2: float = 0.0,
                 columns: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.word_vocab_size, self.ngram_vocab_size = word_vocab_size, ngram_vocab_size
        self.num_classes, self.l2 = num_classes, l2
        # columns: the classes the kernel covers (None: all). With the official nomenclature in training, most of
        # the 5,613 codes have no real row, and the solver fits the wide part on real rows only, so their columns
        # would be zeros: a [vocabulary, 5,613] kernel is ~0.8 GB. The others score ABSENT_SCORE.
        self.columns = None if columns is None else [int(c) for c in columns]

    def build(self, word_ids_shape, ngram_ids_shape):
        vocabulary = self.word_vocab_size + self.ngram_vocab_size
        width = self.num_classes if self.columns is None else len(self.columns)
        self.idf = self.add_weight(shape=(vocabulary,), initializer="ones", trainable=False, name="idf")
        self.kernel = self.add_weight(shape=(vocabulary, width), initializer="zeros", name="kernel",
                                      regularizer=keras.regularizers.L2(self.l2) if self.l2 > 0 else None)
        self.bias = self.add_weight(shape=(width,), initializer="zeros", name="bias")
        if self.columns is not None:  # class -> its kernel column, or the extra ABSENT_SCORE column
            position = np.full(self.num_classes, len(self.columns), np.int32)
            position[self.columns] = np.arange(len(self.columns), dtype=np.int32)
            self.positions = tf.constant(position)

    def call(self, word_ids, ngram_ids):
        ngram_ids = tf.where(ngram_ids > 0, ngram_ids + self.word_vocab_size, 0)  # one id space: words, then n-grams
        ids = tf.concat([word_ids, tf.reshape(ngram_ids, [tf.shape(ngram_ids)[0], -1])], axis=1)  # [B, N]
        weights = tf.gather(self.idf, ids) * tf.cast(ids > 1, self.idf.dtype)
        weights /= tf.maximum(tf.norm(weights, axis=1, keepdims=True), 1e-6)
        # Gather only the ids present (a [B, N, classes] lookup would be mostly padding).
        present = tf.where(weights > 0)  # [M, 2] (row, position)
        rows = tf.gather(self.kernel, tf.gather_nd(ids, present)) * tf.gather_nd(weights, present)[:, None]
        scores = tf.math.unsorted_segment_sum(rows, present[:, 0], tf.shape(ids)[0]) + self.bias
        if self.columns is None:
            return scores
        absent = tf.fill([tf.shape(scores)[0], 1], tf.constant(ABSENT_SCORE, scores.dtype))
        return tf.gather(tf.concat([scores, absent], axis=1), self.positions, axis=1)

    def set_idf(self, idf) -> None:
        self.idf.assign(idf)

    def compute_output_shape(self, word_ids_shape, ngram_ids_shape):
        return (word_ids_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "word_vocab_size": self.word_vocab_size, "l2": self.l2,
                "ngram_vocab_size": self.ngram_vocab_size, "num_classes": self.num_classes, "columns": self.columns}


def inverse_document_frequency(word_ids: np.ndarray, ngram_ids: np.ndarray, word_vocab_size: int,
                               ngram_vocab_size: int) -> np.ndarray:
    """WideScores' idf weights (`set_idf`): scikit-learn's smoothed idf, ln((1 + n) / (1 + df)) + 1, of every id in
    its id space (words, then n-grams shifted by the word vocabulary), over the distinct training rows given."""
    rows = len(word_ids)
    shifted = np.where(ngram_ids > 0, ngram_ids + word_vocab_size, 0).reshape(rows, -1)
    ids = np.concatenate([word_ids, shifted], axis=1).astype(np.int64)
    row_of = np.repeat(np.arange(rows, dtype=np.int64), ids.shape[1])
    vocabulary = word_vocab_size + ngram_vocab_size
    distinct = np.unique(row_of * vocabulary + ids.ravel()) % vocabulary  # each id once per row
    document_frequency = np.bincount(distinct, minlength=vocabulary)
    return (np.log((1.0 + rows) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


@keras.saving.register_keras_serializable(package="hsml")
class CalibratedSoftmax(layers.Layer):
    """softmax(scores * temperature): probabilities from margin scores, temperature fitted on validation rows."""

    def build(self, input_shape):
        self.temperature = self.add_weight(shape=(), initializer="ones", trainable=False, name="temperature")

    def call(self, scores):
        return ops.softmax(scores * self.temperature, axis=-1)


def build_textcnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length, ngrams_per_word, embedding_dim,
                  filters, kernel_sizes, dropout, embedding_dropout, bag_of_embeddings, wide, word_dropout=0.0, output_bias=True,
                  auxiliary_classes=None, scores_only=False, wide_columns=None, **_):
    """Kim (2014): parallel convolutions of several widths, each max-pooled over the sequence. bag_of_embeddings
    adds the masked mean of the embeddings beside them (a fastText-like linear path, "wide and deep")."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout, word_dropout)
    pooled = [MaskedGlobalMaxPooling1D()(layers.Conv1D(filters, k, padding="same", activation="relu")(x), mask)
              for k in kernel_sizes]
    if bag_of_embeddings:
        pooled.append(layers.GlobalAveragePooling1D()(x, mask=mask))
    x = layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    x = layers.Dropout(dropout)(x)
    outputs = _outputs(inputs, x, num_classes, word_vocab_size, ngram_vocab_size, auxiliary_classes, wide, scores_only,
                       output_bias, wide_columns)
    return keras.Model(inputs, outputs, name="textcnn")


def build_lstm(num_classes, word_vocab_size, ngram_vocab_size, *, max_length, ngrams_per_word, embedding_dim, units,
               dropout, embedding_dropout, wide, word_dropout=0.0, output_bias=True, auxiliary_classes=None, scores_only=False, wide_columns=None, **_):
    """Bidirectional LSTM over the (masked) words, mean- and max-pooled."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout, word_dropout)
    x = layers.Bidirectional(layers.LSTM(units, return_sequences=True))(x, mask=mask)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), MaskedGlobalMaxPooling1D()(x, mask)])
    x = layers.Dropout(dropout)(x)
    outputs = _outputs(inputs, x, num_classes, word_vocab_size, ngram_vocab_size, auxiliary_classes, wide, scores_only,
                       output_bias, wide_columns)
    return keras.Model(inputs, outputs, name="lstm")


def build_dnn(num_classes, word_vocab_size, ngram_vocab_size, *, max_length, ngrams_per_word, embedding_dim, units,
              dropout, embedding_dropout, wide, word_dropout=0.0, output_bias=True, auxiliary_classes=None, scores_only=False, wide_columns=None, **_):
    """Bag of embeddings (masked mean and max) through a dense hidden layer; units=0 drops the hidden layer
    (fastText-like: pooled word + n-gram embeddings straight into the softmax, a linear model)."""
    inputs = _inputs(max_length, ngrams_per_word)
    x, mask = _embed(inputs, word_vocab_size, ngram_vocab_size, embedding_dim, embedding_dropout, word_dropout)
    x = layers.Concatenate()([layers.GlobalAveragePooling1D()(x, mask=mask), MaskedGlobalMaxPooling1D()(x, mask)])
    x = layers.Dropout(dropout)(x)
    if units > 0:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    outputs = _outputs(inputs, x, num_classes, word_vocab_size, ngram_vocab_size, auxiliary_classes, wide, scores_only,
                       output_bias, wide_columns)
    return keras.Model(inputs, outputs, name="dnn")


BUILDERS = {"textcnn": build_textcnn, "lstm": build_lstm, "dnn": build_dnn}


def model_arguments(hyperparameters: dict) -> dict:
    """The builder arguments of a resolved hyper-parameter set (steps/hsml/hyperparameters.py), typed."""
    hp = hyperparameters
    return {"max_length": int(hp["max_length"]), "embedding_dim": int(hp["embedding_dim"]),
            "filters": int(hp["filters"]), "kernel_sizes": parse_kernel_sizes(hp["kernel_sizes"]),
            "units": int(hp["units"]), "dropout": float(hp["dropout"]),
            "embedding_dropout": float(hp["embedding_dropout"]), "bag_of_embeddings": bool(int(hp["bag_of_embeddings"])),
            "wide": bool(int(hp["wide"])), "word_dropout": float(hp["word_dropout"]),
            "output_bias": bool(int(hp["output_bias"]))}


def build_model(model_type: str, **kwargs) -> keras.Model:
    """The model type's builder; every hyper-parameter not given comes from the table's defaults for that type."""
    if model_type not in BUILDERS:
        raise UsageError(f"model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    defaults = model_arguments(resolve_hyperparameters({"model_type": model_type}))
    return BUILDERS[model_type](**{**defaults, **kwargs})


@keras.saving.register_keras_serializable(package="hsml")
class PriorAdjustment(layers.Layer):
    """softmax(log p - tau * log prior): logit adjustment (Menon et al., 2021). A network trained on skewed classes
    keeps their prior in its scores; on text unlike its training rows that prior is what is left, and the
    commonest code wins. Subtracting tau * log prior(train) takes it out; `log_prior` is set once, not trained."""

    def __init__(self, num_classes: int, tau: float, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.tau = num_classes, tau

    def build(self, input_shape):
        self.log_prior = self.add_weight(shape=(self.num_classes,), initializer="zeros", trainable=False,
                                         name="log_prior")

    def call(self, probabilities):
        return ops.softmax(ops.log(ops.maximum(probabilities, 1e-12)) - self.tau * self.log_prior, axis=-1)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "tau": self.tau}


def log_prior(y_train: np.ndarray, num_classes: int) -> np.ndarray:
    """log of each class's share of the training rows (add-one smoothed), PriorAdjustment's `log_prior`."""
    counts = np.bincount(y_train, minlength=num_classes).astype(np.float64) + 1.0
    return np.log(counts / counts.sum()).astype(np.float32)


def serving_model(model: keras.Model, temperature: float | None = None, prior: np.ndarray | None = None,
                  tau: float = 0.0) -> keras.Model:
    """The HS6 head alone (what export and predictors need) of a model trained with auxiliary heads; with a
    temperature, the head's margin scores become probabilities through CalibratedSoftmax; with tau > 0 and the
    training log prior, PriorAdjustment takes tau * log prior out of them."""
    output = model.output["hs_code"] if isinstance(model.output, dict) else model.output
    if temperature is not None:
        calibrated = CalibratedSoftmax(name="calibrated_probabilities")
        output = calibrated(output)
        calibrated.temperature.assign(temperature)
    if tau > 0 and prior is not None:
        adjustment = PriorAdjustment(len(prior), tau, name="prior_adjustment")
        output = adjustment(output)
        adjustment.log_prior.assign(prior)
    if output is model.output:
        return model
    return keras.Model(model.inputs, output, name=model.name)
