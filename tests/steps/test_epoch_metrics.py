"""The per-epoch validation metrics: the long-text probes, the selection metric and the tuner's lines."""
from __future__ import annotations

import numpy as np
import pytest

from pipelines.hs_code.tuning import METRIC_DEFINITIONS, OBJECTIVE_METRIC
from pipelines.local.training import final_metrics
from steps.hsml.epoch_metrics import (METRIC_NAMES, SELECTION_METRIC, ValidationMetrics, probe_inputs,
                                      robust_accuracy)

LABELS = ["090230", "330410", "732410"]
PRODUCT_CLASS = {"tea": 0, "lipstick": 1, "sink": 2}
VAL_TEXTS = ["green tea", "red lipstick", "steel sink", "lipstick", "tea"]
VAL_CODES = ["090230", "330410", "732410", "330410", "090230"]


def toy_encode(texts: list[str]) -> tuple[np.ndarray]:
    """[class of the first product word, number of words] per text: all a toy model needs."""
    return (np.array([[next(PRODUCT_CLASS[w] for w in t.split() if w in PRODUCT_CLASS), len(t.split())]
                      for t in texts]),)


class LengthSwampedModel:
    """Reads the product word in short text; on text longer than `max_words` it answers the prior class 1,
    the way a network collapses on unfamiliar text."""

    def __init__(self, max_words: int):
        self.max_words = max_words

    def predict(self, x, batch_size=None, verbose=0):
        product, words = x[0][:, 0], x[0][:, 1]
        return np.eye(len(LABELS))[np.where(words <= self.max_words, product, 1)]


def run_epochs(callback: ValidationMetrics, models: list) -> None:
    callback.on_train_begin()
    for epoch, model in enumerate(models):
        callback.set_model(model)
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    callback.on_train_end()


def test_probes_are_the_validation_rows_padded_and_concatenated_with_codes_unchanged():
    probes = probe_inputs(toy_encode, VAL_TEXTS, VAL_CODES, seed=0)
    assert probes.codes == VAL_CODES * 2 and probes.kinds == ["pad"] * 5 + ["concat"] * 5
    words = probes.x[0][:, 1]
    assert all(words[:5] >= 3 * np.array([len(t.split()) for t in VAL_TEXTS]) - 1)  # 3-4x the characters
    assert list(probes.x[0][:, 0]) == [PRODUCT_CLASS[t.split()[-1]] for t in VAL_TEXTS] * 2


def test_a_model_swamped_by_long_text_scores_well_in_domain_and_badly_on_the_probes():
    lines = []
    callback = ValidationMetrics(toy_encode(VAL_TEXTS), VAL_CODES, LABELS, epochs=1, log=lines.append,
                                 probes=probe_inputs(toy_encode, VAL_TEXTS, VAL_CODES))
    run_epochs(callback, [LengthSwampedModel(max_words=4)])
    entry = callback.history[0]
    assert entry["val_accuracy"] == 1.0
    # Every probe is longer than 4 words: all answered 330410, right only for the two lipstick rows of each kind.
    assert entry["val_probe_accuracy"] == pytest.approx(0.4)
    assert entry["val_probe_pad_accuracy"] == entry["val_probe_concat_accuracy"] == pytest.approx(0.4)
    assert entry["val_probe_commonest_share"] == 1.0
    assert entry[SELECTION_METRIC] == pytest.approx(0.7) == robust_accuracy(1.0, 0.4)
    assert "commonest true code 090230 takes 40.0%" in lines[0]
    assert "probe_accuracy=0.4000 probe_commonest_share=1.000" in lines[1]


def test_the_tuner_reads_the_best_epochs_objective_last():
    """Epoch 2 reads long text (best robust accuracy); epoch 3 is swamped again. EarlyStopping with
    restore_best_weights keeps epoch 2, and so must the objective the tuner reads."""
    lines = []
    callback = ValidationMetrics(toy_encode(VAL_TEXTS), VAL_CODES, LABELS, epochs=3, log=lines.append,
                                 probes=probe_inputs(toy_encode, VAL_TEXTS, VAL_CODES))
    run_epochs(callback, [LengthSwampedModel(4), LengthSwampedModel(1000), LengthSwampedModel(4)])
    assert [e[SELECTION_METRIC] for e in callback.history] == pytest.approx([0.7, 1.0, 0.7])
    assert callback.best_entry()["epoch"] == 2
    log = "\n".join(lines) + "\n"
    metrics = final_metrics(log, METRIC_DEFINITIONS)
    assert metrics[OBJECTIVE_METRIC] == 1.0 and OBJECTIVE_METRIC == SELECTION_METRIC
    assert set(metrics) == {"val_robust_accuracy", "val_accuracy", "val_macro_f1"}


def test_without_probes_the_objective_is_val_accuracy_and_still_printed():
    lines = []
    callback = ValidationMetrics(toy_encode(VAL_TEXTS), VAL_CODES, LABELS, epochs=2, log=lines.append)
    run_epochs(callback, [LengthSwampedModel(1), LengthSwampedModel(1000)])
    assert lines[0] == "no long-text probes given: val_robust_accuracy is val_accuracy"
    assert [e[SELECTION_METRIC] for e in callback.history] == [e["val_accuracy"] for e in callback.history]
    assert callback.history[0]["val_probe_accuracy"] is None and set(METRIC_NAMES) <= set(callback.history[0])
    assert final_metrics("\n".join(lines), METRIC_DEFINITIONS)[OBJECTIVE_METRIC] == 1.0
    with pytest.raises(ValueError, match="monitor must be one of"):
        ValidationMetrics(None, [], LABELS, 1, print, monitor="accuracy")


@pytest.mark.slow
def test_early_stopping_keeps_the_epoch_best_entry_names_on_real_encoded_probes():
    """A real (tiny) Keras model and TFTextVectorizer: the probes encode like x_val, the Keras logs carry the
    selection metric, and EarlyStopping's best epoch is the one ValidationMetrics reports."""
    import keras

    from steps.hsml.tf_encoder import TFTextVectorizer, encode_texts
    from tests.steps.model_fixtures import small_splits

    train, validation, encoder = small_splits()
    vectorizer = TFTextVectorizer(encoder, 16)
    labels = sorted(train["hs_code"].unique())
    x_train = encode_texts(vectorizer, train["text"].tolist())
    y_train = np.array([labels.index(c) for c in train["hs_code"]])
    x_val = encode_texts(vectorizer, validation["text"].tolist())
    probes = probe_inputs(lambda texts: encode_texts(vectorizer, texts), validation["text"].tolist(),
                          validation["hs_code"].tolist())
    assert probes.x[0].shape == (2 * len(validation), 16) and probes.x[1].shape[1:] == x_val[1].shape[1:]

    keras.utils.set_random_seed(3)
    words = keras.Input((16,), dtype="int32")
    ngrams = keras.Input(x_val[1].shape[1:], dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(encoder.word_vocab_size, 8)(words))
    model = keras.Model([words, ngrams], keras.layers.Dense(len(labels), activation="softmax")(pooled))
    model.compile("adam", "sparse_categorical_crossentropy")
    lines = []
    validation_metrics = ValidationMetrics(x_val, validation["hs_code"].tolist(), labels, 4, lines.append, probes)
    early_stopping = keras.callbacks.EarlyStopping(monitor=SELECTION_METRIC, mode="max", patience=1,
                                                   restore_best_weights=True)
    model.fit(list(x_train), y_train, epochs=4, batch_size=64, verbose=0,
              callbacks=[validation_metrics, early_stopping])
    assert validation_metrics.best_entry() is validation_metrics.history[early_stopping.best_epoch]
    assert lines[-1] == f"{SELECTION_METRIC}={validation_metrics.best_entry()[SELECTION_METRIC]:.4f};"
