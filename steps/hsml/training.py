"""Training: prepared splits and an encoder in, an exported model dir and the best epoch's metrics out.

The body of the training job (steps/train.py, SageMaker script mode) and of `hscode train`. It wires the parts,
each in its own module: the hyper-parameter table (hyperparameters.py), the model builders (models.py), the
losses (losses.py), length-bucketed batches (batching.py), the per-epoch validation metrics and the tuner's
metric lines (epoch_metrics.py), Keras' own EarlyStopping on the selection metric (val_robust_accuracy) with the
best weights restored, the temperature fit for margin losses (calibration.py) and the export (export.py). A wide
part is fitted by a convex solver first and frozen (wide_solver.py).
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from steps.hsml.cli_errors import UsageError
from steps.hsml.filler import FILLER_FILE, filler_copies, read_filler_terms
from steps.hsml.hyperparameters import parse_kernel_sizes, resolve_hyperparameters

NOMENCLATURE_SOURCE_PREFIXES = ("wco_", "us_hts")
AUXILIARY_LEVELS = (("hs4", 4), ("hs2", 2))  # auxiliary heads: the HS6 label's heading and chapter


def normalised_texts(frame: pd.DataFrame) -> list[str]:
    """The split's `text` column (data preparation already normalised it), else its descriptions normalised."""
    if "text" in frame.columns:
        return frame["text"].astype(str).tolist()
    from steps.hsml.text import normalize_description

    return [normalize_description(str(d)) for d in frame["description"]]


def nomenclature_sample_weights(frame: pd.DataFrame, weight: float) -> np.ndarray | None:
    """Weight `weight` for official nomenclature rows, 1 for real ones; None when every weight would be 1."""
    official = official_rows(frame)
    if weight == 1.0 or not official.any():
        return None
    return np.where(official, weight, 1.0).astype(np.float32)


def auxiliary_targets(labels: list[str], y_train: np.ndarray) -> dict[str, tuple[int, np.ndarray]]:
    """{head: (classes, targets)}: each training row's HS4 heading and HS2 chapter, for the auxiliary heads."""
    targets = {}
    for name, digits in AUXILIARY_LEVELS:
        parents = sorted({code[:digits] for code in labels})
        parent_index = {p: i for i, p in enumerate(parents)}
        targets[name] = (len(parents), np.array([parent_index[labels[i][:digits]] for i in y_train], np.int32))
    return targets


def compile_model(model, hp: dict, auxiliary: dict, y_train: np.ndarray):
    """Optimizer and loss(es) on the model; returns the fit targets (a dict when there are auxiliary heads)."""
    import keras

    from steps.hsml.losses import make_loss

    loss = make_loss(hp["loss"], float(hp["label_smoothing"]))
    if float(hp["weight_decay"]) > 0:
        optimizer = keras.optimizers.AdamW(float(hp["learning_rate"]), weight_decay=float(hp["weight_decay"]))
    else:
        optimizer = keras.optimizers.Adam(float(hp["learning_rate"]))
    if not auxiliary:
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])  # argmax: right for scores too
        return y_train
    y_fit = {"hs_code": y_train, **{name: targets for name, (_, targets) in auxiliary.items()}}
    aux_weight = float(hp["aux_loss_weight"])
    model.compile(optimizer=optimizer, loss={name: loss for name in y_fit},
                  loss_weights={"hs_code": 1.0, **{name: aux_weight for name in auxiliary}},
                  metrics={"hs_code": ["accuracy"]})
    return y_fit


def official_rows(frame: pd.DataFrame) -> np.ndarray:
    """True for the official nomenclature rows (source wco_* / us_hts*)."""
    if "source" not in frame.columns:
        return np.zeros(len(frame), bool)
    return frame["source"].astype(str).str.startswith(NOMENCLATURE_SOURCE_PREFIXES).to_numpy()


def wide_rows(train_df: pd.DataFrame, train_texts: list[str]) -> np.ndarray:
    """The rows the wide part is fitted on: real descriptions, each once. Up-sampled copies are left out (on
    validation, liblinear on the real rows scores 46.3 % HS6, on the up-sampled ones 42.0 %: docs/models.md), and
    so are the official nomenclature rows: liblinear one-vs-rest over their 5,613 codes did not finish in 20
    minutes, and the deep part learns from them instead (docs/models.md, "Official nomenclature text")."""
    if "upsampled" in train_df.columns:
        documents = (train_df["upsampled"].astype(str) != "1").to_numpy()
    else:
        documents = ~pd.Series(train_texts).duplicated().to_numpy()
    return documents & ~official_rows(train_df)


def wide_columns(train_df: pd.DataFrame, train_texts: list[str], y_train: np.ndarray, num_classes: int):
    """The classes WideScores keeps a kernel column for: those of its rows (`wide_rows`) when some class has
    none (official rows in training), else None (every class, the layer's plain shape)."""
    present = np.unique(y_train[wide_rows(train_df, train_texts)])
    return None if len(present) == num_classes else present.tolist()


def with_filler_copies(train_df: pd.DataFrame, filler_terms: list[str] | None, hp: dict, log) -> pd.DataFrame:
    """The training rows plus, with filler_copies 1, a filler-wrapped copy of each real row (filler.py)."""
    if not int(hp["filler_copies"]):
        return train_df
    if not filler_terms:
        log(f"filler_copies 1 but no {FILLER_FILE} beside the training data: no filler copies")
        return train_df
    texts = normalised_texts(train_df)
    copies = filler_copies(train_df, texts, wide_rows(train_df, texts), filler_terms, seed=int(hp["seed"]))
    log(f"filler copies: {len(copies)} real rows again, wrapped in {len(filler_terms)} vague descriptions")
    return pd.concat([train_df, copies], ignore_index=True)


def fit_wide_part(layer, train_df: pd.DataFrame, train_texts: list[str], x_train, y_train: np.ndarray,
                  sample_weight: np.ndarray | None, hp: dict, encoder, log) -> dict:
    """The wide part's idf and weights from its rows (`wide_rows`), then the layer is frozen so the deep part
    trains on top of the fixed wide scores."""
    from steps.hsml.models import inverse_document_frequency
    from steps.hsml.wide_solver import fit_wide_layer, wide_ids

    documents = wide_rows(train_df, train_texts)
    words, ngrams = x_train[0][documents], x_train[1][documents]
    idf = inverse_document_frequency(words, ngrams, encoder.word_vocab_size, encoder.ngram_vocab_size)
    # An id none of these rows has (a word only the nomenclature rows use) gets no weight: it has no wide weights,
    # and it must not dilute the L2-normalised bag (so the wide part reads real text as a real-rows encoder would).
    seen = np.zeros(len(idf), bool)
    seen[np.unique(wide_ids(words, ngrams, encoder.word_vocab_size))] = True
    layer.set_idf(np.where(seen, idf, 0.0).astype(np.float32))
    return fit_wide_layer(layer, words, ngrams, y_train[documents], solver=str(hp["wide_solver"]),
                          c=float(hp["wide_c"]), intercept=bool(int(hp["wide_intercept"])),
                          balanced=bool(int(hp["wide_balanced"])),
                          sample_weight=None if sample_weight is None else sample_weight[documents],
                          seed=int(hp["seed"]), log=log)


def scale_wide_for_softmax(layer, x_val, val_index: np.ndarray, log) -> float:
    """Multiply the frozen wide margins by the softmax temperature that makes them the best validation
    probabilities (calibration.py), so a cross-entropy model starts from the wide part's own confident answers."""
    from steps.hsml.calibration import fit_temperature

    scores = np.concatenate([np.asarray(layer(x_val[0][i:i + 1024], x_val[1][i:i + 1024]))
                             for i in range(0, len(x_val[0]), 1024)])
    temperature = fit_temperature(scores, val_index)
    layer.kernel.assign(layer.kernel * temperature)
    layer.bias.assign(layer.bias * temperature)
    log(f"wide scores scaled by {temperature:.3g} (softmax temperature fitted on validation) for the softmax loss")
    return temperature


def served_metrics(model, x_val, val_codes: list[str], labels: list[str], probes) -> dict:
    """The validation and probe metrics (epoch_metrics.py) of the model as it is served."""
    from steps.hsml.epoch_metrics import (SELECTION_METRIC, classification_metrics, predict_hs6, probe_metrics,
                                          robust_accuracy)

    def top1(x):
        return [labels[i] for i in predict_hs6(model, x).argmax(axis=1)]

    metrics = classification_metrics(val_codes, top1(x_val))
    metrics.update(probe_metrics(probes, top1(probes.x)))
    metrics[SELECTION_METRIC] = robust_accuracy(metrics["val_accuracy"], metrics["val_probe_accuracy"])
    return metrics


def train_model(
    train_df: pd.DataFrame,
    validation_df: pd.DataFrame,
    encoder,
    hyperparameters: dict | None = None,
    model_dir: str | Path | None = None,
    *,
    training_data_sha256: str | None = None,
    vagueness: str | Path | dict | None = None,
    filler_terms: list[str] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Train, early-stop on validation accuracy, optionally export to model_dir.

    `hyperparameters`: what the caller chose; the table's defaults (global, then the model type's) fill the rest.
    Returns {"metrics": best-epoch validation metrics, "seconds": wall time, "best_epoch", "epochs_run",
    "history": per-epoch dicts, "labels", "unseen_validation_rows", "hyperparameters", "model": the Keras model}.
    """
    import keras
    import tensorflow as tf

    from steps.hsml.batching import LengthBucketedBatches
    from steps.hsml.calibration import fit_temperature
    from steps.hsml.epoch_metrics import (METRIC_NAMES, SELECTION_METRIC, ValidationMetrics, metric_lines,
                                          objective_line, predict_hs6, probe_inputs)
    from steps.hsml.models import build_model, log_prior, model_arguments, serving_model
    from steps.hsml.tf_encoder import TFTextVectorizer, encode_texts

    started = time.perf_counter()
    hp = resolve_hyperparameters(hyperparameters)
    kernel_sizes = parse_kernel_sizes(hp["kernel_sizes"])
    keras.utils.set_random_seed(int(hp["seed"]))
    tf.config.experimental.enable_op_determinism()
    if len(validation_df) == 0:
        raise UsageError("validation split is empty: early stopping and the tuner's metric need validation rows; "
                         "prepare the data with a --validation-fraction above 0")

    train_df = with_filler_copies(train_df, filler_terms, hp, log)
    labels = sorted(train_df["hs_code"].astype(str).unique())
    label_index = {code: i for i, code in enumerate(labels)}
    vectorizer = TFTextVectorizer(encoder, int(hp["max_length"]))
    train_texts = normalised_texts(train_df)
    x_train = encode_texts(vectorizer, train_texts)
    y_train = np.array([label_index[c] for c in train_df["hs_code"].astype(str)], dtype=np.int32)
    x_val = encode_texts(vectorizer, normalised_texts(validation_df))
    val_codes = validation_df["hs_code"].astype(str).tolist()
    unseen = sum(code not in label_index for code in val_codes)
    log(f"train: {len(train_df)} rows, {len(labels)} classes; validation: {len(validation_df)} rows "
        f"({unseen} with a code absent from train, counted as errors); encoder: {encoder.word_vocab_size} words, "
        f"{encoder.ngram_vocab_size} n-grams; model {hp['model_type']}")

    auxiliary = auxiliary_targets(labels, y_train) if float(hp["aux_loss_weight"]) > 0 else {}
    margin_loss = hp["loss"] == "squared_hinge"
    model = build_model(
        hp["model_type"], num_classes=len(labels), word_vocab_size=encoder.word_vocab_size,
        ngram_vocab_size=encoder.ngram_vocab_size, ngrams_per_word=encoder.max_ngrams_per_word,
        **{**model_arguments(hp), "max_length": vectorizer.max_length},
        auxiliary_classes={name: n for name, (n, _) in auxiliary.items()} or None, scores_only=margin_loss,
        wide_columns=wide_columns(train_df, train_texts, y_train, len(labels)) if int(hp["wide"]) else None,
    )
    sample_weight = nomenclature_sample_weights(train_df, float(hp["nomenclature_weight"]))
    if int(hp["wide"]):
        wide = model.get_layer("wide_scores")
        fit_wide_part(wide, train_df, train_texts, x_train, y_train, sample_weight, hp, encoder, log)
        if not margin_loss:  # softmax on top: margins of +-1 would be a near-uniform start; scale them first
            scale_wide_for_softmax(wide, x_val, np.array([label_index.get(c, -1) for c in val_codes]), log)
    y_fit = compile_model(model, hp, auxiliary, y_train)

    epochs, patience = int(hp["epochs"]), int(hp["patience"])
    # Early stopping and the tuner read the same selection metric: in-domain validation plus its long-text probes
    # (epoch_metrics.py), so the epoch kept is one that still reads the product words in listing-like text.
    probes = probe_inputs(lambda texts: encode_texts(vectorizer, texts), normalised_texts(validation_df), val_codes)
    validation = ValidationMetrics(x_val, val_codes, labels, epochs, log, probes=probes, monitor=SELECTION_METRIC)
    early_stopping = keras.callbacks.EarlyStopping(monitor=SELECTION_METRIC, mode="max", patience=patience,
                                                   restore_best_weights=True)
    batches = LengthBucketedBatches(x_train, y_fit, int(hp["batch_size"]), int(hp["seed"]), sample_weight=sample_weight)
    model.fit(batches, epochs=epochs, verbose=0, callbacks=[validation, early_stopping])  # validation fills the logs
    best = validation.best_entry()
    if early_stopping.stopped_epoch > 0:
        log(f"early stopping: no {SELECTION_METRIC} gain for {patience} epochs; best epoch {best['epoch']}")

    temperature = None
    tau, prior = float(hp["prior_tau"]), log_prior(y_train, len(labels))
    if margin_loss:  # margins -> probabilities that mean something (the coverage curve auto-accepts on them)
        # Fitted on what is served, after the logit adjustment: the adjustment lifts every rare code, and with
        # 5,613 codes (most with one official row) a temperature fitted before it left the served top-1 at a few %.
        temperature = fit_temperature(predict_hs6(model, x_val), np.array([label_index.get(c, -1) for c in val_codes]),
                                      offset=tau * prior if tau > 0 else None)
        log(f"softmax temperature for the margin scores, fitted on validation: {temperature:.3g}")
    if tau > 0:
        log(f"logit adjustment: served scores minus {tau:g} x log prior of the training rows")
    # The HS6 head only (what export, predictors and callers use), calibrated, with the logit adjustment.
    model = serving_model(model, temperature, prior, tau)
    metrics = {name: best[name] for name in METRIC_NAMES}
    if tau > 0:  # the epoch was chosen without the adjustment; the tuner and metadata get the served model's numbers
        metrics = served_metrics(model, x_val, val_codes, labels, probes)
    log(f"best epoch {best['epoch']} of {len(validation.history)}{' (logit-adjusted)' if tau > 0 else ''}:")
    if tau > 0:
        log(objective_line(metrics))
    log(metric_lines(metrics))  # last: the tuner keeps the last match, so it reads the best epoch
    result = {
        "metrics": metrics, "best_epoch": best["epoch"], "epochs_run": len(validation.history),
        "history": validation.history, "labels": labels, "unseen_validation_rows": unseen,
        "hyperparameters": {**hp, "kernel_sizes": ",".join(map(str, kernel_sizes))}, "model": model,
    }
    if model_dir is not None:
        from steps.hsml.export import export_model_dir

        if training_data_sha256 is None:  # no file at hand: hash the frame as train.csv would hold it
            training_data_sha256 = hashlib.sha256(train_df.to_csv(index=False).encode("utf-8")).hexdigest()
        export_model_dir(
            model, encoder, labels, model_dir, max_length=vectorizer.max_length,
            hyperparameters=result["hyperparameters"], training_data_sha256=training_data_sha256,
            metrics={**metrics, "best_epoch": best["epoch"], "epochs_run": len(validation.history),
                     "unseen_validation_rows": unseen, "validation_rows": len(validation_df)},
            extra_metadata={"history": validation.history}, vagueness=vagueness,
        )
        write_drift_baseline(model, x_val, normalised_texts(validation_df), labels, encoder, model_dir, log)
        log(f"model written to {model_dir}")
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def write_drift_baseline(model, x_val, val_texts: list[str], labels: list[str], encoder, model_dir, log) -> Path:
    """drift_baseline.json in the model dir: the validation rows as the served model answers them (top-1 of the
    best weights, restored), so the monitor compares traffic with what held-out data looked like (drift_baseline.py)."""
    from steps.hsml.drift_baseline import build_baseline, write_baseline
    from steps.hsml.epoch_metrics import predict_hs6

    probabilities = predict_hs6(model, x_val)
    top1 = probabilities.argmax(axis=1)
    predictions = [{"codes": [labels[i]], "probabilities": [float(row[i])]} for i, row in zip(top1, probabilities)]
    baseline = build_baseline(val_texts, predictions, encoder, source="validation split")
    log(f"drift baseline: {baseline['n']} validation rows")
    return write_baseline(baseline, model_dir)


def run(train_dir: str | Path | None, validation_dir: str | Path | None, model_dir: str | Path | None,
        hyperparameters: dict | None = None, log: Callable[[str], None] = print) -> dict:
    """Read the channels (train_dir: train.csv + encoder.json; validation_dir: validation.csv, default train_dir),
    train, export into model_dir: the body of the training job and of `hscode train`."""
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.hashing import sha256_file
    from steps.hsml.prepared import read_split, split_path

    if not train_dir or not model_dir:
        raise UsageError("give --train DIR and --model-dir DIR (or set SM_CHANNEL_TRAIN and SM_MODEL_DIR)")
    train_dir = Path(train_dir)
    encoder_path = train_dir / "encoder.json"
    if not encoder_path.exists():
        raise UsageError(f"{encoder_path} not found: the train channel must hold data preparation's encoder.json "
                         "(run `hscode data prepare INPUT... --out DIR` and train on DIR)")
    vagueness_path = train_dir / "vagueness.json"  # data preparation's vague detector, carried into the model
    return train_model(
        read_split(train_dir, "train"), read_split(validation_dir or train_dir, "validation"),
        TextEncoder.load(encoder_path), hyperparameters, model_dir,
        training_data_sha256=sha256_file(split_path(train_dir, "train")),
        vagueness=vagueness_path if vagueness_path.is_file() else None,
        filler_terms=read_filler_terms(train_dir), log=log,
    )
