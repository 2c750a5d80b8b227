"""Accuracy benchmark: our three networks against TF-IDF + LinearSVC, fastText and MiniLM, in domain and out.

    python -m bench.accuracy                          # everything, results into bench/results/ (make bench)
    python -m bench.accuracy --models textcnn,tfidf --checks in_domain --epochs 5
    python -m bench.accuracy --quick --out /tmp/b     # a few hundred rows, 1 epoch: checks the harness only
    python -m bench.accuracy --report-only            # rewrite accuracy.md from accuracy.json

One run prepares the splits with the project's own preprocess code on the bundled data, then trains, scores and
times every model on the same splits:

- in domain: train split -> the 440-row `test_fpo` split of real parcel declarations, plus its long-text probes
  (padded with listing filler, and concatenated with another description of the same code);
- cross-source (bench/cross_source.py): HMRC search terms -> FPO declarations, and FPO -> HMRC.

The networks train exactly as `hscode train` does (steps/hsml/training.train_model with the defaults of
steps/hsml/hyperparameters.py at the time of the run) on the default preparation (up-sampled); two ablations run
in domain only: the DNN without up-sampling and the deep-only DNN. Baselines train on the real rows without the
up-sampled copies. Everything runs on CPU pinned to 2 threads (fastText: 1, its only deterministic setting).
Writes accuracy.json ({"context", "runs": one object per model and check}) and accuracy.md (bench/report.py).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.limits import data_limits

THREADS = 2
NETWORKS = ("textcnn", "lstm", "dnn")
BASELINES = ("tfidf", "fasttext", "minilm")
# Ablations, in domain only: a network with one of `hscode train`'s defaults switched off, as (model type,
# hyper-parameter overrides, trained on up-sampled rows?). dnn_deep is the DNN without its wide part, on softmax
# cross-entropy (the former default); dnn_noup the DNN on the rows without the up-sampled copies.
ABLATIONS = {
    "dnn_deep": ("dnn", {"wide": 0, "loss": "crossentropy", "label_smoothing": 0.1}, False),
    "dnn_noup": ("dnn", {}, False),
}
ALL_MODELS = NETWORKS + BASELINES + tuple(ABLATIONS)
IN_DOMAIN = "in_domain"
CROSS_SOURCE_CHECKS = ("hmrc_to_fpo", "fpo_to_hmrc")
CHECK_GROUPS = {IN_DOMAIN: (IN_DOMAIN,), "cross_source": CROSS_SOURCE_CHECKS}
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
LATENCY_CALLS = 200
THROUGHPUT_ROWS = 4096
PROBE_SEED = 0
# The share of rows a broker could leave to the model: the precision of the most confident 30 % of answers.
COVERAGE_TARGET = 0.30


def pin_threads(threads: int = THREADS) -> None:
    """Before TensorFlow / torch / BLAS start: every library gets the same 2 threads."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU numbers, even on a machine with a GPU


def log(message: str) -> None:
    print(message, flush=True)


def prefixed(prefix: str):
    """A log function that puts `prefix` before every line (train.py prints some multi-line messages)."""
    return lambda message: log("\n".join(f"{prefix}{line}" for line in str(message).splitlines()))


@dataclass
class Splits:
    """One check's prepared splits: train (up-sampled copies included, column `upsampled`), validation, test."""
    check: str
    train: "object"
    validation: "object"
    test: "object"
    encoder_path: Path
    report: dict
    nomenclature_sources: set
    upsample_default: bool = True
    filler_terms: list | None = None  # data preparation's filler_terms.txt (steps/hsml/filler.py), as training reads it
    _real_codes: list | None = field(default=None, repr=False)

    def train_rows(self, upsampled: bool, real_only: bool = False):
        frame = self.train if upsampled else self.train[self.train["upsampled"] != "1"]
        if real_only:
            frame = frame[~frame["source"].isin(self.nomenclature_sources)]
        return frame.reset_index(drop=True)

    def real_train_codes(self) -> list[str]:
        """The codes of the real training rows, without up-sampled copies: the class prior as the data has it."""
        if self._real_codes is None:
            self._real_codes = self.train_rows(upsampled=False, real_only=True)["hs_code"].astype(str).tolist()
        return self._real_codes


def bundled_inputs():
    from pipelines import settings

    return settings.BUNDLED_DATASET, settings.HS2022_NOMENCLATURE


def read_bundled():
    import pandas as pd

    dataset, _ = bundled_inputs()
    return pd.read_csv(dataset, dtype=str, keep_default_na=False)


def quick_frame(bundled, classes: int = 20, rows_per_source: int = 8):
    """A small real slice for --quick: the most frequent real classes, a few rows of each source per class."""
    real = bundled[bundled["split"].isin(["train", "test_fpo"])]
    top = real["hs_code"].value_counts().index[:classes]
    sample = real[real["hs_code"].isin(top)].groupby(["hs_code", "source"]).head(rows_per_source)
    return sample[["description", "hs_code", "source"]].reset_index(drop=True)


def prepare_check(check: str, bundled, work: Path, quick: bool) -> Splits:
    """Prepare one check's splits with the project's preprocess code and its default options."""
    from bench.cross_source import write_check_input
    from steps.hsml.filler import read_filler_terms
    from steps.hsml.prepared import read_split
    from steps.hsml.preparation import PrepareOptions, prepare

    _, reference = bundled_inputs()
    folder = work / check
    folder.mkdir(parents=True, exist_ok=True)
    if check == IN_DOMAIN:
        if quick:  # no split column: preprocess carves validation and test from the slice
            path = folder / "input.csv"
            quick_frame(bundled).to_csv(path, index=False)
            inputs = [path]
        else:
            inputs = [bundled_inputs()[0]]
    else:
        frame = quick_frame(bundled).assign(split="train") if quick else bundled
        inputs = [write_check_input(frame, check, folder / "input.csv")]
    options = PrepareOptions()  # the defaults, as `hscode data prepare` and the pipeline's Preprocess use them
    log(f"[bench] {check}: preparing splits with steps/preprocess.py's code from {', '.join(map(str, inputs))}")
    prepared = folder / "prepared"
    report = prepare(inputs, reference, prepared, options)
    nomenclature = set(bundled.loc[bundled["split"] == "train_nomenclature", "source"])
    return Splits(check=check, train=read_split(prepared, "train"), validation=read_split(prepared, "validation"),
                  test=read_split(prepared, "test"), encoder_path=prepared / "encoder.json", report=report,
                  nomenclature_sources=nomenclature, upsample_default=bool(options.upsample),
                  filler_terms=read_filler_terms(prepared))


def predictions_of(predictor, descriptions) -> list:
    from steps.hsml.evaluation import predict_in_batches

    return predict_in_batches(predictor, [str(d) for d in descriptions], log=lambda m: None)


def scores(codes, predictions, train_codes: list[str]) -> dict:
    """Accuracy at HS2/4/6 (the evaluation step's own metric code) and the predicted-class concentration."""
    from steps.hsml import metrics
    from steps.hsml.generalisation import commonest_share

    codes = [str(c) for c in codes]
    topk = metrics.topk_table(codes, predictions, ks=(1, 3), levels=(2, 4, 6))
    top1_codes, _ = metrics.top1(predictions)
    f1 = metrics.classification_scores(codes, top1_codes)
    predicted, predicted_share = commonest_share(top1_codes)
    true, true_share = commonest_share(codes)
    train_counts = Counter(train_codes)
    return {**topk, "macro_f1": f1["macro_f1"], "weighted_f1": f1["weighted_f1"], "rows": len(codes),
            "commonest_predicted": predicted, "commonest_predicted_share": predicted_share,
            "commonest_predicted_train_share": train_counts[predicted] / max(1, len(train_codes)),
            "commonest_true": true, "commonest_true_share": true_share}


def operating_point(codes, predictions) -> dict:
    """Serving's auto-accept rule, as steps/hsml/metrics.py computes it: the lowest threshold on the top-1
    probability whose accepted rows reach ACCEPT_PRECISION, and the coverage it gives (0 when none does)."""
    import numpy as np

    from steps.hsml import metrics

    codes = [str(c) for c in codes]
    curve = metrics.coverage_curve(codes, predictions)
    point = metrics.threshold_for_accuracy(curve, metrics.ACCEPT_PRECISION)
    top1_codes, probabilities = metrics.top1(predictions)
    correct = np.array([p == t for p, t in zip(top1_codes, codes)], dtype=bool)
    most_confident = np.argsort(-probabilities, kind="stable")[: max(1, int(np.ceil(COVERAGE_TARGET * len(codes))))]
    return {"accept_precision_target": metrics.ACCEPT_PRECISION,
            "accept_threshold": point.threshold if point else None,
            "accept_coverage": point.coverage if point else 0.0,
            "accept_precision": point.accuracy if point else None,
            "precision_at_30_coverage": float(correct[most_confident].mean()) if len(codes) else None}


def selection_scores(predictor, validation, train_codes: list[str]) -> dict:
    """Validation HS6 top-1, its long-text probes (both kinds pooled) and the project's selection metric."""
    from bench.cross_source import probe_sets

    codes = validation["hs_code"].astype(str).tolist()
    val = scores(codes, predictions_of(predictor, validation["description"]), train_codes)
    probe_texts, probe_codes = [], []
    for texts, kind_codes in probe_sets(validation["text"], codes, seed=PROBE_SEED).values():
        probe_texts += texts
        probe_codes += kind_codes
    probe = scores(probe_codes, predictions_of(predictor, probe_texts), train_codes)
    return {"val_hs6_top1": val["hs6_top1"], "val_hs2_top1": val["hs2_top1"],
            "val_probe_hs6_top1": probe["hs6_top1"],
            "val_selection": _selection_metric(val["hs6_top1"], probe["hs6_top1"])}


def _selection_metric(val_accuracy: float, probe_accuracy: float) -> float:
    try:  # the tuner's own formula (steps/hsml/epoch_metrics.py), so the bench picks as the pipeline would
        from steps.hsml.epoch_metrics import robust_accuracy
    except ImportError:
        return (val_accuracy + probe_accuracy) / 2
    return float(robust_accuracy(val_accuracy, probe_accuracy))


def timing_row(predictor, test, quick: bool, throughput_rows: int = THROUGHPUT_ROWS) -> dict:
    from bench.timing import batch_throughput, single_latency_ms

    descriptions = test["description"].tolist()
    p50, p99 = single_latency_ms(predictor, descriptions, calls=20 if quick else LATENCY_CALLS)
    throughput = batch_throughput(predictor, descriptions, rows=256 if quick else throughput_rows)
    return {"p50_ms": p50, "p99_ms": p99, "batch_per_s": throughput}


# --- fitting: each returns (predictor, facts about the fit); saving and sizing only in domain.

def fit_network(name: str, splits: Splits, work: Path, epochs: int | None) -> tuple[object, dict]:
    from bench.timing import size_mb
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.predictor import load_predictor
    from steps.hsml.training import train_model

    model_type, overrides, upsampled = ABLATIONS.get(name, (name, {}, splits.upsample_default))
    train = splits.train_rows(upsampled)
    hyperparameters = {"model_type": model_type, **overrides}
    if epochs is not None:
        hyperparameters["epochs"] = epochs
    model_dir = work / splits.check / "models" / name
    tag = f"[bench] {splits.check} {name}:"
    log(f"{tag} training on {len(train):,} rows ({'with' if upsampled else 'without'} up-sampling)")
    result = train_model(train, splits.validation, TextEncoder.load(splits.encoder_path), hyperparameters,
                         model_dir, filler_terms=splits.filler_terms, log=prefixed(f"{tag}   "))
    has_nomenclature = train["source"].isin(splits.nomenclature_sources).any()
    return load_predictor(model_dir), {
        "model": model_type, "upsampled": upsampled,
        "trained_on": "real + nomenclature rows" if has_nomenclature else "real rows",
        "train_rows": len(train), "epochs_run": result["epochs_run"], "best_epoch": result["best_epoch"],
        "train_seconds": result["seconds"], "size_mb": size_mb(model_dir),
        "hyperparameters": {k: v for k, v in result["hyperparameters"].items()},
    }


def fit_tfidf(splits: Splits, work: Path) -> tuple[object, dict]:
    from bench.baselines import TfidfLinearPredictor
    from bench.timing import size_mb

    # Real rows only: LinearSVC on real + nomenclature (5,613 classes) does not finish in the bench's budget.
    train = splits.train_rows(upsampled=False, real_only=True)
    log(f"[bench] {splits.check} tfidf: TF-IDF word 1-2 + char_wb 2-5 with LinearSVC(C=0.5) on {len(train):,} rows")
    started = time.perf_counter()
    predictor = TfidfLinearPredictor("linearsvc").fit(train["text"].tolist(), train["hs_code"].tolist())
    seconds = time.perf_counter() - started  # training only, as for the networks: saving is not timed
    size = size_mb(predictor.save(work / splits.check / "models" / "tfidf.pkl")) if splits.check == IN_DOMAIN else None
    return predictor, _baseline_facts("tfidf", train, seconds, size)


class FastTextDiverged(RuntimeError):
    """The in-domain choice of fastText's learning rate diverged on a cross-source check's rows."""


def fit_fasttext(splits: Splits, work: Path, quick: bool, chosen: dict | None) -> tuple[object, dict]:
    """In domain: choose epoch and lr on validation over the grid. Cross-source: the in-domain choice, refitted."""
    from bench import fasttext_baseline as ft
    from bench.timing import size_mb

    train = splits.train_rows(upsampled=False, real_only=True)
    texts, codes = train["text"].tolist(), train["hs_code"].tolist()
    tag = f"[bench] {splits.check} fasttext:"
    facts: dict = {}
    if chosen is None:
        grid = ft.QUICK_GRID if quick else ft.GRID
        log(f"{tag} supervised, char 2-4-grams, word bigrams, on {len(train):,} rows; epoch and lr on validation")
        choice = ft.choose_on_validation(texts, codes, splits.validation["description"].tolist(),
                                         splits.validation["hs_code"].astype(str).tolist(), grid,
                                         log=prefixed(f"{tag} "))
        predictor, seconds = choice.predictor, choice.train_seconds
        facts.update({"fasttext_grid": choice.grid, "selection_seconds": choice.selection_seconds})
    else:
        log(f"{tag} epoch {chosen['epoch']}, lr {chosen['lr']} (chosen on in-domain validation), {len(train):,} rows")
        started = time.perf_counter()
        try:
            predictor = ft.FastTextPredictor(chosen["epoch"], chosen["lr"]).fit(texts, codes)
        except RuntimeError as error:  # fastText's "Encountered NaN": the chosen learning rate diverged here
            raise FastTextDiverged(f"fastText training diverged on these rows ({error})") from error
        seconds = time.perf_counter() - started
    size = (size_mb(predictor.save(work / splits.check / "models" / "fasttext.bin"))
            if splits.check == IN_DOMAIN else None)
    facts.update(_baseline_facts("fasttext", train, seconds, size))
    facts["settings"] = predictor.settings
    return predictor, facts


def fit_minilm(splits: Splits, work: Path) -> tuple[object, dict]:
    from bench.baselines import MiniLMPredictor
    from bench.timing import size_mb

    # Real rows only: embedding the 30k long nomenclature rows takes longer than the whole bench budget on 2 cores.
    train = splits.train_rows(upsampled=False, real_only=True)
    log(f"[bench] {splits.check} minilm: all-MiniLM-L6-v2 embeddings + LogisticRegression on {len(train):,} rows")
    started = time.perf_counter()
    predictor = MiniLMPredictor(threads=THREADS, log=log).fit(train["description"].tolist(),
                                                              train["hs_code"].tolist())
    seconds = time.perf_counter() - started
    size = (size_mb(predictor.weights_dir, predictor.save_head(work / splits.check / "models" / "minilm_head.pkl"))
            if splits.check == IN_DOMAIN else None)
    return predictor, _baseline_facts("minilm", train, seconds, size)


def _baseline_facts(model: str, train, seconds: float, size: float | None) -> dict:
    return {"model": model, "upsampled": False, "trained_on": "real rows", "train_rows": len(train),
            "train_seconds": seconds, "size_mb": size}


def missing_extra(model: str) -> str | None:
    from bench.baselines import minilm_available
    from bench.fasttext_baseline import fasttext_available

    return {"minilm": minilm_available, "fasttext": fasttext_available}.get(model, lambda: None)()


def run_model(name: str, splits: Splits, work: Path, args, chosen_fasttext: dict | None) -> dict:
    """Fit one model on one check's training rows, score it on the check's test rows (and, in domain, on
    validation, the long-text probes and the clock)."""
    from bench.cross_source import probe_sets
    from steps.hsml import metrics

    if name in BASELINES:
        predictor, facts = {"tfidf": lambda: fit_tfidf(splits, work),
                            "fasttext": lambda: fit_fasttext(splits, work, args.quick, chosen_fasttext),
                            "minilm": lambda: fit_minilm(splits, work)}[name]()
    else:
        predictor, facts = fit_network(name, splits, work, args.epochs)
    train_codes = splits.real_train_codes()
    test_codes = splits.test["hs_code"].astype(str).tolist()
    row = {"check": splits.check, "name": name, "ablation": name in ABLATIONS, **facts}
    predictions = predictions_of(predictor, splits.test["description"])
    row.update(scores(test_codes, predictions, train_codes))
    row.update(selection_scores(predictor, splits.validation, train_codes))
    if splits.check == IN_DOMAIN:
        row.update(operating_point(test_codes, predictions))
        row["probes"] = {kind: scores(codes, predictions_of(predictor, texts), train_codes)
                         for kind, (texts, codes) in probe_sets(splits.test["text"], test_codes, PROBE_SEED).items()}
        log(f"[bench] {splits.check} {name}: timing")
        # 1,024 rows are plenty to measure a transformer's throughput (4,096 would take minutes on 2 cores).
        row.update(timing_row(predictor, splits.test, args.quick, **({"throughput_rows": 1024}
                                                                      if name == "minilm" else {})))
    known = (getattr(predictor, "metadata", None) or {}).get("labels")
    row["unseen_test_rows"] = sum(metrics.unseen_labels(test_codes, known).values())
    return row


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(ALL_MODELS),
                        help=f"comma list of {','.join(ALL_MODELS)} (default: all)")
    parser.add_argument("--checks", default=",".join(CHECK_GROUPS),
                        help=f"comma list of {','.join(CHECK_GROUPS)} (default: both)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="max epochs per network (default: the training defaults, early stopping on validation)")
    parser.add_argument("--no-ablation", action="store_true", help=f"leave out {', '.join(ABLATIONS)}")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred rows and 1 epoch: checks the harness end to end")
    parser.add_argument("--report-only", action="store_true", help="rewrite accuracy.md from accuracy.json in --out")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results dir (default {DEFAULT_OUT})")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared splits and models here (default: temp)")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(ALL_MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(ALL_MODELS)}")
    if args.no_ablation:
        args.models = [m for m in args.models if m not in ABLATIONS]
    groups = [c.strip() for c in args.checks.split(",") if c.strip()]
    unknown = sorted(set(groups) - set(CHECK_GROUPS))
    if unknown or not groups:
        parser.error(f"unknown check(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(CHECK_GROUPS)}")
    args.checks = [check for group in CHECK_GROUPS if group in groups for check in CHECK_GROUPS[group]]
    if args.quick and args.epochs is None:
        args.epochs = 1
    return args


def planned_runs(args) -> list[tuple[str, str]]:
    """(check, model) in run order: in domain first (fastText's choice is made there), ablations in domain only."""
    return [(check, model) for check in args.checks for model in args.models
            if check == IN_DOMAIN or model not in ABLATIONS]


def run_bench(args) -> list[dict]:
    from bench import report
    from bench.honesty import recorded_test_fpo_choices

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    bundled = read_bundled()
    with tempfile.TemporaryDirectory(prefix="hs-bench-") as temporary:
        work = Path(args.work or temporary)
        work.mkdir(parents=True, exist_ok=True)
        splits: dict[str, Splits] = {}
        rows: list[dict] = []
        chosen_fasttext: dict | None = None
        limits = data_limits()  # what the bundled data allows (the page's "why not met" section)

        def context() -> dict:
            return {
                "quick": args.quick, "epochs": args.epochs, "threads": THREADS, "cpu_count": os.cpu_count(),
                "load_average_start": load_before, "load_average_end": os.getloadavg()[0],
                "wall_seconds": time.perf_counter() - started, "probe_seed": PROBE_SEED,
                "checks": {name: _check_context(s) for name, s in splits.items()},
                "test_fpo_choices": recorded_test_fpo_choices(), "data_limits": limits,
            }

        for check, model in planned_runs(args):
            if check not in splits:
                splits[check] = prepare_check(check, bundled, work, args.quick)
            missing = missing_extra(model)
            if missing:
                log(f"[bench] {check} {model}: SKIPPED: {missing}")
                row = {"check": check, "name": model, "model": model, "skipped": missing}
            else:
                if model == "fasttext" and check != IN_DOMAIN and chosen_fasttext is None:
                    chosen_fasttext = _choose_fasttext_in_domain(splits, bundled, work, args)
                model_started = time.perf_counter()
                try:
                    row = run_model(model, splits[check], work, args, chosen_fasttext)
                    row["wall_seconds"] = time.perf_counter() - model_started  # fit + scoring + timing
                except FastTextDiverged as error:
                    log(f"[bench] {check} {model}: SKIPPED: {error}")
                    row = {"check": check, "name": model, "model": model, "skipped": str(error)}
                else:
                    if model == "fasttext" and check == IN_DOMAIN:
                        chosen_fasttext = {"epoch": row["settings"]["epoch"], "lr": row["settings"]["lr"]}
                    _progress(row)
            rows.append(row)
            report.write_results(rows, context(), args.out)  # after every model: a killed run keeps what it has
        final = context()
    paths = report.write_results(rows, final, args.out)
    log(f"[bench] wrote {', '.join(str(p) for p in paths)} in {final['wall_seconds'] / 60:.1f} min")
    return rows


def _choose_fasttext_in_domain(splits: dict, bundled, work: Path, args) -> dict:
    """fastText's settings when the in-domain check is not part of this run: the same validation choice."""
    if IN_DOMAIN not in splits:
        splits[IN_DOMAIN] = prepare_check(IN_DOMAIN, bundled, work, args.quick)
    predictor, _ = fit_fasttext(splits[IN_DOMAIN], work, args.quick, None)
    del splits[IN_DOMAIN]  # not a check of this run
    return {"epoch": predictor.epoch, "lr": predictor.lr}


def _check_context(splits: Splits) -> dict:
    from steps.hsml.generalisation import commonest_share

    test_sources = Counter(splits.test["source"]) if "source" in splits.test else {}
    code, share = commonest_share(splits.real_train_codes())
    return {"train_commonest": code, "train_commonest_share": share,"splits": splits.report.get("splits", {}), "test_rows": len(splits.test),
            "test_classes": int(splits.test["hs_code"].nunique()),
            "train_classes": int(splits.train["hs_code"].nunique()),
            "real_train_rows": len(splits.real_train_codes()), "test_sources": dict(test_sources),
            "train_sources": dict(Counter(splits.train_rows(upsampled=False)["source"])),
            "upsample_default": splits.upsample_default}


def _progress(row: dict) -> None:
    log(f"[bench] {row['check']} {row['name']}: HS6 top-1 {row['hs6_top1']:.1%}, HS4 {row['hs4_top1']:.1%}, "
        f"HS2 {row['hs2_top1']:.1%}; validation {row['val_hs6_top1']:.1%}; commonest prediction "
        f"{row['commonest_predicted']} {row['commonest_predicted_share']:.1%}; train {row['train_seconds']:.0f}s")


def report_only(out: Path) -> list[Path]:
    from bench import report

    saved = json.loads((out / "accuracy.json").read_text(encoding="utf-8"))
    if not isinstance(saved, dict) or "runs" not in saved:  # a page written before issue 13 kept no context
        raise SystemExit(f"{out / 'accuracy.json'} holds no run context (written by an older bench): rerun the bench")
    return report.write_results(saved["runs"], saved["context"], out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.report_only:
        log(f"[bench] wrote {', '.join(map(str, report_only(args.out)))}")
        return 0
    pin_threads()
    run_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
