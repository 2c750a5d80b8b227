"""Why the networks fall to the class prior on unfamiliar text, and which changes fix it (issue 13).

Every experiment trains one configuration and scores it on what model selection may see (never test_fpo):
- in domain: the prepared validation split, HS6 and HS2 top-1;
- long-text probes of the validation rows (steps/hsml/generalisation.py: padded with listing filler, and
  concatenated with another row of the same code): HS6/HS2 top-1 and the commonest predicted code's share, against
  the commonest code's share of the training rows (the issue's target: at most 3x);
- cross-source: trained on the HMRC search-term rows only, scored on every FPO declaration row of train +
  validation, and the reverse (each network early-stops on the validation rows of its own source).
TF-IDF + LinearSVC (bench/baselines.py) is scored on the same rows.

    python -m bench.robustness                      # every experiment, then bench/results/robustness.md
    python -m bench.robustness --only dnn tfidf     # some of them (results merge into robustness.json)
    python -m bench.robustness --diagnose dnn       # where the prior comes from, for one configuration
    python -m bench.robustness --epoch-cost         # why a wide-DNN epoch was slow (Adam vs SGD vs frozen)
    python -m bench.robustness --report-only        # rewrite the page from robustness.json

Compute: 2 shared cores; each experiment trains 3 models (in domain + 2 cross-source) with --epochs (default 8).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
JSON_PATH, MD_PATH = RESULTS / "robustness.json", RESULTS / "robustness.md"

# Data variants: `hscode data prepare` options.
DATA_OPTIONS = {
    "real": ["--no-upsample"],
    "upsampled": [],  # the pipeline's Preprocess defaults (floor 5, duplicates)
    "nomenclature": ["--no-upsample", "--nomenclature", "include"],
    "subheadings": ["--no-upsample", "--nomenclature", "subheadings"],  # + WCO HS6 and US 6-digit texts (7.6k)
}


@dataclass(frozen=True)
class Experiment:
    name: str
    data: str
    hyperparameters: dict = field(default_factory=dict)
    prior_tau: float = 0.0  # logit adjustment at prediction time: log p - tau * log prior(train)
    note: str = ""


EXPERIMENTS = [
    Experiment("tfidf", "real", {"model_type": "tfidf"}, note="TF-IDF + LinearSVC (bench/baselines.py)"),
    Experiment("wide_only", "real", {"model_type": "wide"}, note="the wide part alone (liblinear on the bag)"),
    Experiment("wide_only_no_intercept", "real", {"model_type": "wide", "wide_intercept": 0}),
    Experiment("wide_only_balanced", "real", {"model_type": "wide", "wide_balanced": 1}),
    Experiment("wide_only_tau0.5", "real", {"model_type": "wide"}, prior_tau=0.5),
    Experiment("wide_only_tau1", "real", {"model_type": "wide"}, prior_tau=1.0),
    Experiment("tfidf_tau1", "real", {"model_type": "tfidf"}, prior_tau=1.0),
    Experiment("dnn", "real", {"model_type": "dnn", "prior_tau": 0.0},
               note="DNN: wide part by liblinear (frozen) + deep part, squared hinge; no logit adjustment"),
    Experiment("dnn_upsampled", "upsampled", {"model_type": "dnn"}, note="the DNN defaults on the up-sampled rows"),
    Experiment("textcnn", "upsampled", {"model_type": "textcnn"}, note="Text-CNN defaults, softmax + smoothing 0.1"),
    Experiment("textcnn_nosmooth", "upsampled", {"model_type": "textcnn", "label_smoothing": 0.0}),
    Experiment("textcnn_tau1", "upsampled", {"model_type": "textcnn", "prior_tau": 1.0}),
    Experiment("dnn_tau1", "real", {"model_type": "dnn", "prior_tau": 1.0}),
    Experiment("dnn_tau0.5", "real", {"model_type": "dnn", "prior_tau": 0.5},
               note="the DNN defaults now (prior_tau 0.5)"),
    Experiment("textcnn_wide", "upsampled", {"model_type": "textcnn", "wide": 1},
               note="Text-CNN on top of the frozen wide scores"),
    Experiment("dnn_word_dropout", "real", {"model_type": "dnn", "word_dropout": 0.3},
               note="the DNN defaults (prior_tau 0.5) + word_dropout 0.3"),
    Experiment("textcnn_word_dropout", "upsampled", {"model_type": "textcnn", "word_dropout": 0.3}),
    Experiment("textcnn_wide_word_dropout", "upsampled", {"model_type": "textcnn", "wide": 1, "word_dropout": 0.3}),
    Experiment("dnn_nomenclature", "nomenclature", {"model_type": "dnn", "nomenclature_weight": 0.3},
               note="+30k official rows at weight 0.3 (all 5,613 codes)"),
    Experiment("dnn_subheadings", "subheadings", {"model_type": "dnn"},
               note="the DNN defaults + the 7.6k official subheading texts (all 5,613 codes; wide part on real rows)"),
    Experiment("dnn_subheadings_w0.3", "subheadings", {"model_type": "dnn", "nomenclature_weight": 0.3},
               note="as dnn_subheadings, official rows at sample weight 0.3"),
    Experiment("dnn_filler", "real", {"model_type": "dnn", "filler_copies": 1},
               note="the DNN (prior_tau 0.5) + a copy of each real row wrapped in vague descriptions (filler.py)"),
    Experiment("dnn_subheadings_filler", "subheadings", {"model_type": "dnn", "filler_copies": 1},
               note="dnn_subheadings + filler copies"),
]


def log(message: str) -> None:
    print(f"[robustness] {message}", flush=True)


def prepare(variant: str, work: Path) -> Path:
    out = work / f"prepared_{variant}"
    if not (out / "train.csv").exists():
        hscode = Path(sys.executable).parent / "hscode"  # the project's CLI in the same environment
        subprocess.run([str(hscode), "data", "prepare", "--out", str(out), *DATA_OPTIONS[variant]], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
    return out


def splits(directory: Path):
    from steps.hsml.prepared import read_split

    return read_split(directory, "train"), read_split(directory, "validation")


# --- models behind one interface: fit(train_df, validation_df) -> predict(texts) -> (labels, log-probabilities)

class NetworkModel:
    def __init__(self, hyperparameters: dict, epochs: int, filler_terms: list[str] | None = None):
        self.hp = {**hyperparameters, "epochs": epochs}
        self.filler_terms = filler_terms

    def fit(self, train_df, validation_df):
        from steps.hsml.encoder import TextEncoder
        from steps.hsml.tf_encoder import TFTextVectorizer
        from steps.hsml.training import normalised_texts, train_model

        encoder = TextEncoder.fit([t for t, up in zip(normalised_texts(train_df), _upsampled(train_df)) if not up])
        result = train_model(train_df, validation_df, encoder, self.hp, filler_terms=self.filler_terms,
                             log=lambda line: None)
        self.model, self.labels = result["model"], result["labels"]
        self.vectorizer = TFTextVectorizer(encoder, int(result["hyperparameters"]["max_length"]))
        self.result = result
        return self

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        from steps.hsml.tf_encoder import encode_texts

        probabilities = self.model.predict(encode_texts(self.vectorizer, texts), batch_size=1024, verbose=0)
        return np.log(np.clip(probabilities, 1e-12, 1.0))


class TfidfModel:
    def fit(self, train_df, validation_df):
        from bench.baselines import TfidfLinearPredictor
        from steps.hsml.training import normalised_texts

        real = ~np.array(_upsampled(train_df))
        texts = [t for t, keep in zip(normalised_texts(train_df), real) if keep]
        self.predictor = TfidfLinearPredictor().fit(texts, train_df["hs_code"][real].tolist())
        self.labels = self.predictor.metadata["labels"]
        self.temperature = _temperature(self, validation_df)
        return self

    def scores(self, texts: list[str]) -> np.ndarray:
        return self.predictor.model.decision_function(self.predictor.features.transform(texts))

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        return _log_softmax(self.scores(texts) * self.temperature)


def _temperature(model, validation_df) -> float:
    """Margins -> probabilities as training does it for margin losses (calibration.py), so that a logit
    adjustment (tau * log prior) means the same for every model."""
    from steps.hsml.calibration import fit_temperature
    from steps.hsml.training import normalised_texts

    index = {code: i for i, code in enumerate(model.labels)}
    truth = np.array([index.get(code, -1) for code in validation_df["hs_code"]])
    return fit_temperature(model.scores(normalised_texts(validation_df)), truth)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class WideOnlyModel:
    """The wide part as training fits it (wide_solver.py), scored without any deep part."""

    def __init__(self, hyperparameters: dict):
        self.hp = {k: v for k, v in hyperparameters.items() if k != "model_type"}

    def fit(self, train_df, validation_df):
        from steps.hsml.encoder import TextEncoder
        from steps.hsml.models import WideScores
        from steps.hsml.tf_encoder import TFTextVectorizer, encode_texts
        from steps.hsml.training import fit_wide_part, normalised_texts
        from steps.hsml.hyperparameters import resolve_hyperparameters

        texts = normalised_texts(train_df)
        encoder = TextEncoder.fit([t for t, up in zip(texts, _upsampled(train_df)) if not up])
        self.labels = sorted(train_df["hs_code"].unique())
        index = {c: i for i, c in enumerate(self.labels)}
        self.vectorizer = TFTextVectorizer(encoder, 48)
        x = encode_texts(self.vectorizer, texts)
        self.layer = WideScores(encoder.word_vocab_size, encoder.ngram_vocab_size, len(self.labels))
        self.layer(x[0][:1], x[1][:1])
        y = np.array([index[c] for c in train_df["hs_code"]])
        fit_wide_part(self.layer, train_df, texts, x, y, None, resolve_hyperparameters(self.hp), encoder,
                      log=lambda line: None)
        self.temperature = _temperature(self, validation_df)
        return self

    def scores(self, texts: list[str]) -> np.ndarray:
        from steps.hsml.tf_encoder import encode_texts

        x = encode_texts(self.vectorizer, texts)
        return np.concatenate([np.asarray(self.layer(*chunk)) for chunk in _chunks(x)])

    def log_probabilities(self, texts: list[str]) -> np.ndarray:
        return _log_softmax(self.scores(texts) * self.temperature)


def _chunks(x, size=1024):
    for start in range(0, len(x[0]), size):
        yield x[0][start:start + size], x[1][start:start + size]


def _upsampled(frame) -> list[bool]:
    return (frame["upsampled"].astype(str) == "1").tolist() if "upsampled" in frame.columns else [False] * len(frame)


def make_model(experiment: Experiment, epochs: int, prepared: Path | None = None):
    """The experiment's model; `prepared`: the prepared data folder (its filler terms, filler.py)."""
    from steps.hsml.filler import read_filler_terms

    kind = experiment.hyperparameters.get("model_type")
    if kind == "tfidf":
        return TfidfModel()
    if kind == "wide":
        return WideOnlyModel(experiment.hyperparameters)
    return NetworkModel(experiment.hyperparameters, epochs, read_filler_terms(prepared) if prepared else None)


# --- scoring

def predict_top1(model, texts: list[str], prior: dict[str, float], tau: float) -> list[str]:
    from steps.hsml.text import normalize_description

    scores = model.log_probabilities([normalize_description(t) for t in texts])
    if tau:
        log_prior = np.log(np.array([prior.get(code, 1e-6) for code in model.labels]))
        scores = scores - tau * log_prior
    return [model.labels[i] for i in scores.argmax(axis=1)]


def accuracy(true: list[str], predicted: list[str], digits: int) -> float:
    return float(np.mean([t[:digits] == p[:digits] for t, p in zip(true, predicted)]))


def training_prior(train_df) -> dict[str, float]:
    counts = Counter(train_df["hs_code"])
    total = sum(counts.values())
    return {code: n / total for code, n in counts.items()}


def score_in_domain(experiment: Experiment, epochs: int, work: Path) -> dict:
    from steps.hsml.generalisation import REAL_SOURCES, commonest_share, probe_report

    prepared = prepare(experiment.data, work)
    train_df, validation_df = splits(prepared)
    started = time.perf_counter()
    model = make_model(experiment, epochs, prepared).fit(train_df, validation_df)
    seconds = time.perf_counter() - started
    prior = training_prior(train_df)
    real_train = train_df[~np.array(_upsampled(train_df)) & train_df["source"].isin(REAL_SOURCES).to_numpy()]
    codes = validation_df["hs_code"].tolist()
    predicted = predict_top1(model, validation_df["description"].tolist(), prior, experiment.prior_tau)
    probes = probe_report(lambda texts: predict_top1(model, list(texts), prior, experiment.prior_tau),
                          validation_df["description"].tolist(), codes)
    _, train_share = commonest_share(real_train["hs_code"])
    row = {"val_hs6": accuracy(codes, predicted, 6), "val_hs2": accuracy(codes, predicted, 2),
           "val_commonest_share": commonest_share(predicted)[1],
           "probe_hs6": probes["hs6_top1_accuracy"], "probe_hs2": probes["hs2_top1_accuracy"],
           "probe_commonest_code": probes["commonest_predicted_code"],
           "probe_commonest_share": probes["commonest_predicted_share"], "train_commonest_share": train_share,
           "fit_seconds": round(seconds, 1)}
    if isinstance(model, NetworkModel):
        row["best_epoch"] = model.result["best_epoch"]
    return row


def score_cross_source(experiment: Experiment, epochs: int, work: Path) -> dict:
    """Train on one real source's rows (train split; early stopping on that source's validation rows), score
    every row of the other source in train + validation (never test_fpo)."""
    import pandas as pd

    from steps.hsml.generalisation import FPO_SOURCE, HMRC_SEARCH_SOURCE, commonest_share, source_rows

    prepared = prepare(experiment.data, work)
    train_df, validation_df = splits(prepared)
    row = {}
    for source, other, tag in ((HMRC_SEARCH_SOURCE, FPO_SOURCE, "hmrc_to_fpo"), (FPO_SOURCE, HMRC_SEARCH_SOURCE,
                                                                                  "fpo_to_hmrc")):
        official = train_df[~train_df["source"].isin([FPO_SOURCE, HMRC_SEARCH_SOURCE])]
        source_train = pd.concat([source_rows(train_df, source), official])  # official: the nomenclature rows
        target = source_rows(train_df, other)
        target = pd.concat([target[~np.array(_upsampled(target))], source_rows(validation_df, other)])
        model = make_model(experiment, epochs, prepared).fit(source_train, source_rows(validation_df, source))
        prior = training_prior(source_train)
        codes = target["hs_code"].tolist()
        predicted = predict_top1(model, target["description"].tolist(), prior, experiment.prior_tau)
        row[f"{tag}_hs6"], row[f"{tag}_hs2"] = accuracy(codes, predicted, 6), accuracy(codes, predicted, 2)
        row[f"{tag}_commonest_share"] = commonest_share(predicted)[1]
        row[f"{tag}_rows"] = len(codes)
        row[f"{tag}_reachable"] = float(np.mean([code in prior for code in codes]))  # code seen in training
    return row


# --- diagnosis: where the prior comes from (one trained network)

def diagnose(experiment: Experiment, epochs: int, work: Path) -> dict:
    """Trains the configuration once, then on the probes: how much of the text the model cannot read (unknown
    words), which part's scores pick the commonest code (wide vs deep), and what zeroing the biases changes."""
    import keras

    from steps.hsml.encoder import UNKNOWN_ID
    from steps.hsml.generalisation import commonest_share, long_text_probe
    from steps.hsml.tf_encoder import encode_texts
    from steps.hsml.text import normalize_description

    train_df, validation_df = splits(prepare(experiment.data, work))
    model = make_model(experiment, epochs).fit(train_df, validation_df)
    codes = validation_df["hs_code"].tolist()
    texts, probe_codes = long_text_probe(validation_df["description"].tolist(), codes, kind="pad")
    x = encode_texts(model.vectorizer, [normalize_description(t) for t in texts])
    real_words = x[0] > 0
    out = {"probe_unknown_word_share": float((x[0][real_words] == UNKNOWN_ID).mean()),
           "probe_words_per_row": float(real_words.sum(1).mean()),
           "probe_rows_cut_at_max_length": float((real_words.sum(1) >= x[0].shape[1]).mean())}
    net = model.model
    labels = model.labels
    prior_rank = {code: rank for rank, (code, _) in enumerate(Counter(train_df["hs_code"]).most_common())}

    def share_of(scores):
        predicted = [labels[i] for i in scores.argmax(1)]
        code, share = commonest_share(predicted)
        return {"code": code, "share": round(share, 3), "prior_rank": prior_rank.get(code),
                "hs6": round(accuracy(probe_codes, predicted, 6), 4)}

    out["served"] = share_of(net.predict(x, verbose=0))
    names = {layer.name for layer in net.layers}
    parts = {}
    if "wide_scores" in names:
        parts["wide_only"] = keras.Model(net.inputs, net.get_layer("wide_scores").output)
    head = "deep_scores" if "deep_scores" in names else "hs_code"
    parts["deep_only"] = keras.Model(net.inputs, net.get_layer(head).output)
    for name, part in parts.items():
        out[name] = share_of(part.predict(x, verbose=0))
    # Biases zeroed (deep head and wide part): does the prior live in the biases?
    saved = []
    for layer_name in ("deep_scores", "hs_code", "wide_scores"):
        if layer_name in names and getattr(net.get_layer(layer_name), "bias", None) is not None:
            bias = net.get_layer(layer_name).bias
            saved.append((bias, bias.numpy()))
            bias.assign(np.zeros_like(bias.numpy()))
    out["biases_zeroed"] = share_of(net.predict(x, verbose=0))
    for bias, value in saved:
        bias.assign(value)
    # The unknown-word vector: zero it (the word then counts only through its n-grams).
    embedding = next((layer for layer in net.layers if layer.name == "embedding"), None)
    if embedding is not None:
        table = embedding.word_embedding.embeddings
        value = table.numpy()
        zeroed = value.copy()
        zeroed[UNKNOWN_ID] = 0
        table.assign(zeroed)
        out["unknown_vector_zeroed"] = share_of(net.predict(x, verbose=0))
        table.assign(value)
    return out


# --- why a wide epoch was slow: the same DNN, wide kernel trained by Adam, by SGD, or frozen

def epoch_cost(work: Path) -> dict:
    """Seconds of the second epoch (the first includes tracing) of the default DNN on the real rows."""
    import keras

    from steps.hsml.batching import LengthBucketedBatches
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.hyperparameters import resolve_hyperparameters
    from steps.hsml.losses import make_loss
    from steps.hsml.models import build_model, model_arguments
    from steps.hsml.tf_encoder import TFTextVectorizer, encode_texts

    directory = prepare("real", work)
    train_df, _ = splits(directory)
    encoder = TextEncoder.load(directory / "encoder.json")
    x = encode_texts(TFTextVectorizer(encoder, 48), train_df["text"].tolist())
    labels = sorted(train_df["hs_code"].unique())
    index = {c: i for i, c in enumerate(labels)}
    y = np.array([index[c] for c in train_df["hs_code"]], np.int32)

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.started)

    out = {}
    for name in ("adam", "sgd", "frozen"):
        keras.utils.set_random_seed(1)
        model = build_model("dnn", num_classes=len(labels), word_vocab_size=encoder.word_vocab_size,
                            ngram_vocab_size=encoder.ngram_vocab_size, ngrams_per_word=encoder.max_ngrams_per_word,
                            **model_arguments(resolve_hyperparameters({"model_type": "dnn"})), scores_only=True)
        model.get_layer("wide_scores").trainable = name != "frozen"
        optimizer = keras.optimizers.SGD(0.01) if name == "sgd" else keras.optimizers.Adam(0.001)
        model.compile(optimizer=optimizer, loss=make_loss("squared_hinge", 0.0))
        timer = EpochTimer()
        model.fit(LengthBucketedBatches(x, y, 64, 1), epochs=2, verbose=0, callbacks=[timer])
        seconds = timer.seconds
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        out[name] = {"second_epoch_seconds": round(seconds[-1], 1), "trainable_weights": trainable}
        log(f"epoch cost {name}: {out[name]}")
    return out


# --- the page

COLUMNS = [("val_hs6", "val HS6"), ("val_hs2", "val HS2"), ("probe_hs6", "probe HS6"), ("probe_hs2", "probe HS2"),
           ("probe_commonest_share", "probe commonest share"), ("train_commonest_share", "train commonest share"),
           ("hmrc_to_fpo_hs6", "HMRC→FPO HS6"), ("hmrc_to_fpo_hs2", "HMRC→FPO HS2"),
           ("fpo_to_hmrc_hs6", "FPO→HMRC HS6"), ("fpo_to_hmrc_hs2", "FPO→HMRC HS2"), ("fit_seconds", "fit s")]
# Cross-source ceilings: the share of the other source's rows whose code occurs in the source's training rows.


def _cell(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if key == "fit_seconds":
        return f"{value:.0f}"
    return f"{100 * value:.1f}"


def write_report(results: dict) -> None:
    by_name = {e.name: e for e in EXPERIMENTS}
    lines = ["# Robustness experiments (issue 13)", "",
             "Produced by `python -m bench.robustness` (bench/robustness.py); do not edit by hand. What model selection "
             "may see only: the validation split, its long-text probes (steps/hsml/generalisation.py) and the "
             "cross-source check (train on one real source, score every train + validation row of the other). "
             "test_fpo is not used here.", "",
             "Accuracies and shares in %. `probe commonest share`: share of probe predictions taken by the single "
             "commonest predicted code; target: at most 3x `train commonest share` (the commonest code's share of the "
             "real training rows). `fit s`: wall seconds of the in-domain fit on 2 shared cores.", "",
             "| experiment | data | " + " | ".join(title for _, title in COLUMNS) + " | what |",
             "|---|---|" + "---:|" * len(COLUMNS) + "---|"]
    for name, row in results.get("experiments", {}).items():
        experiment = by_name.get(name)
        settings = experiment.note if experiment and experiment.note else (
            ", ".join(f"{k}={v}" for k, v in (experiment.hyperparameters if experiment else {}).items()))
        if experiment and experiment.prior_tau and "tau" not in settings:
            settings += f", tau={experiment.prior_tau}"
        lines.append(f"| {name} | {experiment.data if experiment else '?'} | "
                     + " | ".join(_cell(key, row.get(key)) for key, _ in COLUMNS) + f" | {settings} |")
    ceilings = next((row for row in results.get("experiments", {}).values() if "hmrc_to_fpo_reachable" in row), None)
    if ceilings:
        lines += ["", f"Cross-source ceilings (rows whose code occurs in the other source's training rows): "
                      f"HMRC→FPO {100 * ceilings['hmrc_to_fpo_reachable']:.1f} % of "
                      f"{ceilings['hmrc_to_fpo_rows']:,} FPO rows, FPO→HMRC "
                      f"{100 * ceilings['fpo_to_hmrc_reachable']:.1f} % of {ceilings['fpo_to_hmrc_rows']:,} HMRC rows."]
    if "epoch_cost" in results:
        lines += ["", "## Wide-DNN epoch cost (`--epoch-cost`)", "", "| wide kernel | second epoch s | trainable weights |",
                  "|---|---:|---:|"]
        lines += [f"| {name} | {row['second_epoch_seconds']} | {row['trainable_weights']:,} |"
                  for name, row in results["epoch_cost"].items()]
    for name, diagnosis in results.get("diagnoses", {}).items():
        lines += ["", f"## Diagnosis: {name}", "", "```", json.dumps(diagnosis, indent=1), "```"]
    lines += ["", f"Machine: {results.get('machine', '?')}."]
    MD_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.robustness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="experiment names (default: all)")
    parser.add_argument("--diagnose", nargs="*", default=None, help="diagnose these experiments instead")
    parser.add_argument("--no-cross-source", action="store_true", help="skip the two cross-source fits")
    parser.add_argument("--cross-source-only", action="store_true",
                        help="only the cross-source fits, merged into the experiment's stored row")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--work", default="/tmp/hsml-robustness", help="prepared data cache")
    parser.add_argument("--epoch-cost", action="store_true", help="time a wide-DNN epoch: Adam, SGD, frozen")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    results = json.loads(JSON_PATH.read_text()) if JSON_PATH.exists() else {}
    if not args.report_only:
        import os

        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        by_name = {e.name: e for e in EXPERIMENTS}
        unknown = [n for n in (args.only or []) + (args.diagnose or []) if n not in by_name]
        if unknown:
            parser.error(f"unknown experiment(s) {unknown}; choose from {', '.join(by_name)}")
        if args.epoch_cost:
            results["epoch_cost"] = epoch_cost(work)
        elif args.diagnose:
            for name in args.diagnose:
                log(f"diagnosing {name}")
                results.setdefault("diagnoses", {})[name] = diagnose(by_name[name], args.epochs, work)
        else:
            for name in args.only or list(by_name):
                row = dict(results.get("experiments", {}).get(name, {}))
                if not args.cross_source_only:
                    log(f"{name}: in domain")
                    row.update(score_in_domain(by_name[name], args.epochs, work))
                if not args.no_cross_source:
                    log(f"{name}: cross-source")
                    row.update(score_cross_source(by_name[name], args.epochs, work))
                log(f"{name}: {json.dumps(row)}")
                results.setdefault("experiments", {})[name] = row
                JSON_PATH.write_text(json.dumps(results, indent=1))
        results["machine"] = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end"
        JSON_PATH.write_text(json.dumps(results, indent=1))
    write_report(results)
    log(f"wrote {MD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
