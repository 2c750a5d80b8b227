"""Accuracy benchmark: our three networks (with and without up-sampling) against a TF-IDF and a MiniLM baseline.

    python -m bench.accuracy                          # everything, results into bench/results/ (make bench)
    python -m bench.accuracy --models textcnn,tfidf --epochs 5
    python -m bench.accuracy --quick --out /tmp/b     # a few hundred rows, 1 epoch: checks the harness only

One run prepares the splits once with the project's own preprocess step on the bundled data (test = the
440-row `test_fpo` split of real parcel declarations), then trains, scores and times every model on the same
splits. "Without up-sampling" drops the up-sampled copies (train.csv's `upsampled` = 1 rows), which is what
`--no-upsample` would write: same split, same encoder. Everything runs on CPU pinned to 2 threads, mirroring
the 2-core serving target. Writes accuracy.json (one object per model run) and accuracy.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

THREADS = 2
ALL_MODELS = ("textcnn", "lstm", "dnn", "dnn_deep", "tfidf", "minilm")
NETWORKS = ("textcnn", "lstm", "dnn")
# Ablations: a network with some of train.py's defaults switched off, as (model type, hyper-parameters), trained
# without up-sampling only. dnn_deep is the DNN without its wide part, on softmax cross-entropy (the former default).
ABLATIONS = {"dnn_deep": ("dnn", {"wide": 0, "loss": "crossentropy", "label_smoothing": 0.1})}
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
LATENCY_CALLS = 200
THROUGHPUT_ROWS = 4096


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
    train: "object"  # pandas DataFrame, up-sampled copies included (column `upsampled`)
    validation: "object"
    test: "object"
    encoder_path: Path
    report: dict
    nomenclature_sources: set

    def train_rows(self, upsampled: bool, real_only: bool = False):
        frame = self.train if upsampled else self.train[self.train["upsampled"] != "1"]
        if real_only:
            frame = frame[~frame["source"].isin(self.nomenclature_sources)]
        return frame.reset_index(drop=True)


def bundled_inputs():
    from pipelines import settings

    return settings.BUNDLED_DATASET, settings.HS2022_NOMENCLATURE


def write_quick_input(path: Path, classes: int = 20, rows_per_class: int = 12) -> Path:
    """A small real slice for --quick: the most frequent real classes, no fixed splits (preprocess carves them)."""
    import pandas as pd

    dataset, _ = bundled_inputs()
    frame = pd.read_csv(dataset, dtype=str, keep_default_na=False)
    real = frame[frame["split"].isin(["train", "test_fpo"])]
    top = real["hs_code"].value_counts().index[:classes]
    sample = real[real["hs_code"].isin(top)].groupby("hs_code").head(rows_per_class)
    sample[["description", "hs_code", "source"]].to_csv(path, index=False)
    return path


def prepare_splits(work: Path, quick: bool) -> Splits:
    import pandas as pd

    from steps.hsml.prepared import read_split
    from steps.hsml.preparation import PrepareOptions, prepare

    dataset, reference = bundled_inputs()
    inputs = [write_quick_input(work / "quick_input.csv")] if quick else [dataset]
    prepared = work / "prepared"
    log(f"[bench] preparing splits with steps/preprocess.py from {', '.join(map(str, inputs))}")
    report = prepare(inputs, reference, prepared, PrepareOptions(upsample=True))
    bundled = pd.read_csv(dataset, dtype=str, keep_default_na=False, usecols=["source", "split"])
    return Splits(
        train=read_split(prepared, "train"), validation=read_split(prepared, "validation"),
        test=read_split(prepared, "test"), encoder_path=prepared / "encoder.json", report=report,
        nomenclature_sources=set(bundled.loc[bundled["split"] == "train_nomenclature", "source"]),
    )


def accuracy_row(predictor, test) -> dict:
    """The accuracy columns of one run, with the evaluation step's own metric code."""
    from steps.hsml.evaluation import predict_in_batches
    from steps.hsml import metrics

    codes = test["hs_code"].tolist()
    predictions = predict_in_batches(predictor, test["description"].tolist(), log=lambda m: None)
    topk = metrics.topk_table(codes, predictions, ks=(1, 3), levels=(2, 4, 6))
    top1_codes, _ = metrics.top1(predictions)
    scores = metrics.classification_scores(codes, top1_codes)
    unseen = metrics.unseen_labels(codes, (getattr(predictor, "metadata", None) or {}).get("labels"))
    return {**topk, "macro_f1": scores["macro_f1"], "weighted_f1": scores["weighted_f1"],
            "test_rows": len(codes), "unseen_test_rows": sum(unseen.values())}


def timing_row(predictor, test, quick: bool, throughput_rows: int = THROUGHPUT_ROWS) -> dict:
    from bench.timing import batch_throughput, single_latency_ms

    descriptions = test["description"].tolist()
    p50, p99 = single_latency_ms(predictor, descriptions, calls=20 if quick else LATENCY_CALLS)
    throughput = batch_throughput(predictor, descriptions, rows=256 if quick else throughput_rows)
    return {"p50_ms": p50, "p99_ms": p99, "batch_per_s": throughput}


def run_network(model: str, upsampled: bool, splits: Splits, work: Path, epochs: int | None, quick: bool) -> dict:
    from bench.timing import size_mb
    from steps.hsml.encoder import TextEncoder
    from steps.hsml.predictor import load_predictor
    from steps.hsml.training import train_model

    name = f"{model}{'+up' if upsampled else ''}"
    train = splits.train_rows(upsampled)
    model_type, overrides = ABLATIONS.get(model, (model, {}))
    hyperparameters = {"model_type": model_type, **overrides}
    if epochs is not None:
        hyperparameters["epochs"] = epochs
    model_dir = work / "models" / name
    log(f"[bench] {name}: training on {len(train):,} rows ({'with' if upsampled else 'without'} up-sampling)")
    result = train_model(train, splits.validation, TextEncoder.load(splits.encoder_path), hyperparameters,
                         model_dir, log=prefixed(f"[bench] {name}:   "))
    predictor = load_predictor(model_dir)
    has_nomenclature = train["source"].isin(splits.nomenclature_sources).any()
    trained_on = "train split (real + nomenclature)" if has_nomenclature else "train split (real rows)"
    row = {"model": model, "upsampled": upsampled, "trained_on": trained_on,
           "train_rows": len(train), "epochs_run": result["epochs_run"], "best_epoch": result["best_epoch"],
           "train_seconds": result["seconds"], "size_mb": size_mb(model_dir)}
    row.update(accuracy_row(predictor, splits.test))
    row.update(timing_row(predictor, splits.test, quick))
    return row


def run_tfidf(splits: Splits, work: Path, quick: bool) -> dict:
    from bench.baselines import TfidfLinearPredictor
    from bench.timing import size_mb

    # Real rows only: LinearSVC on real + nomenclature (5,613 classes) does not finish in the bench's budget.
    def fit(train):
        return TfidfLinearPredictor("linearsvc").fit(train["text"].tolist(), train["hs_code"].tolist())

    def save(predictor) -> float:
        return size_mb(predictor.save(work / "models" / "tfidf.pkl"))

    return _run_baseline("tfidf", "TF-IDF word 1-2 + char_wb 2-5 with LinearSVC(C=0.5)", fit, save, splits, quick)


def run_minilm(splits: Splits, work: Path, quick: bool) -> dict:
    from bench.baselines import MiniLMPredictor
    from bench.timing import size_mb

    # Real rows only: embedding the 30k long nomenclature rows takes longer than the whole bench budget on 2 cores.
    def fit(train):
        return MiniLMPredictor(threads=THREADS, log=log).fit(train["description"].tolist(), train["hs_code"].tolist())

    def save(predictor) -> float:
        return size_mb(predictor.weights_dir, predictor.save_head(work / "models" / "minilm_head.pkl"))

    # 1,024 rows are plenty to measure a transformer's throughput (4,096 would take minutes on 2 cores).
    return _run_baseline("minilm", "all-MiniLM-L6-v2 embeddings + LogisticRegression", fit, save, splits, quick,
                         throughput_rows=1024)


def _run_baseline(model: str, what: str, fit, save, splits: Splits, quick: bool, **timing_options) -> dict:
    """Train a baseline on the real rows of the train split (no up-sampling), then score and time it."""
    train = splits.train_rows(upsampled=False, real_only=True)
    log(f"[bench] {model}: {what} on {len(train):,} real rows")
    started = time.perf_counter()
    predictor = fit(train)
    seconds = time.perf_counter() - started  # training only, as for the networks: saving is not timed
    row = {"model": model, "upsampled": False, "trained_on": "real rows of the train split",
           "train_rows": len(train), "train_seconds": seconds, "size_mb": save(predictor)}
    row.update(accuracy_row(predictor, splits.test))
    log(f"[bench] {model}: timing")
    row.update(timing_row(predictor, splits.test, quick, **timing_options))
    return row


def _skip(model: str, reason: str) -> dict:
    log(f"[bench] {model}: SKIPPED: {reason}")
    return {"model": model, "skipped": reason}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(ALL_MODELS),
                        help=f"comma list of {','.join(ALL_MODELS)} (default: all)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="max epochs per network (default: train.py's default, early stopping on validation)")
    parser.add_argument("--no-ablation", action="store_true", help="networks with up-sampling only")
    parser.add_argument("--quick", action="store_true",
                        help="a few hundred rows and 1 epoch: checks the harness end to end in seconds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results dir (default {DEFAULT_OUT})")
    parser.add_argument("--work", type=Path, default=None, help="keep prepared splits and models here (default: temp)")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(ALL_MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(ALL_MODELS)}")
    if args.quick and args.epochs is None:
        args.epochs = 1
    return args


def run_bench(args) -> list[dict]:
    from bench import report
    from bench.baselines import minilm_available

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hs-bench-") as temporary:
        work = Path(args.work or temporary)
        work.mkdir(parents=True, exist_ok=True)
        splits = prepare_splits(work, args.quick)
        rows: list[dict] = []

        def context() -> dict:
            return {
                "quick": args.quick, "epochs": args.epochs, "threads": THREADS, "cpu_count": os.cpu_count(),
                "load_average_start": load_before, "load_average_end": os.getloadavg()[0],
                "wall_seconds": time.perf_counter() - started, "prepare_report": splits.report,
                "test_classes": int(splits.test["hs_code"].nunique()),
                "train_classes": int(splits.train["hs_code"].nunique()),
            }

        def record(row: dict) -> None:
            rows.append(row)
            if "skipped" not in row:
                _progress(row)
            report.write_results(rows, context(), args.out)  # after every model: a killed run keeps what it has

        for model in args.models:
            if model in NETWORKS:
                for upsampled in (True,) if args.no_ablation else (True, False):
                    record(run_network(model, upsampled, splits, work, args.epochs, args.quick))
            elif model in ABLATIONS:
                record(run_network(model, False, splits, work, args.epochs, args.quick))
            elif model == "tfidf":
                record(run_tfidf(splits, work, args.quick))
            elif model == "minilm":
                missing = minilm_available()
                record(_skip("minilm", missing) if missing else run_minilm(splits, work, args.quick))
        final = context()
    paths = report.write_results(rows, final, args.out)
    log(f"[bench] wrote {', '.join(str(p) for p in paths)} in {final['wall_seconds'] / 60:.1f} min")
    return rows


def _progress(row: dict) -> None:
    log(f"[bench] {row['model']}{'+up' if row.get('upsampled') else ''}: HS6 top-1 {row['hs6_top1']:.1%}, "
        f"top-3 {row['hs6_top3']:.1%}, HS4 {row['hs4_top1']:.1%}, HS2 {row['hs2_top1']:.1%}, "
        f"macro-F1 {row['macro_f1']:.3f}; train {row['train_seconds']:.0f}s, {row['size_mb']:.1f} MB, "
        f"p50 {row['p50_ms']:.1f} ms, {row['batch_per_s']:,.0f} desc/s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pin_threads()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    run_bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
