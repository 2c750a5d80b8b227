"""Which features and which loss carry HS6 accuracy on test_fpo? A scikit-learn study behind the DNN's design.

Every variant is a TfidfVectorizer + LinearSVC(C=0.5) (the bench baseline's classifier) on the real rows of the
train split, scored on validation.csv and test.csv (test_fpo). The "encoder" variants use exactly the bag the
project's encoder gives a description: each word plus its character n-grams of "<word>"; the last variant swaps
LinearSVC's squared hinge for multinomial logistic regression on the same bag. Usage:

    python bench/data_prep/ngram_ranges.py [--out bench/data_prep/ngram_ranges.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_union
from sklearn.svm import LinearSVC

from pipelines.settings import BUNDLED_DATASET, DATA_DIR
from steps.hsml.encoder import TextEncoder
from steps.hsml.prepared import read_split
from steps.hsml.text import tokenize
from steps.hsml.preparation import PrepareOptions, prepare

DEFAULT_OUT = Path(__file__).resolve().parent / "ngram_ranges.json"


def encoder_bag(ngram_min: int, ngram_max: int, with_words: bool = True):
    """The tokens our encoder gives one normalised text (words, then each word's character n-grams)."""
    encoder = TextEncoder(ngram_min=ngram_min, ngram_max=ngram_max)

    def analyse(text: str) -> list[str]:
        return [token for word in tokenize(text) for token in ([word] if with_words else []) + encoder.char_ngrams(word)]

    return TfidfVectorizer(analyzer=analyse, sublinear_tf=True, min_df=2)


def variants() -> dict:
    svm = lambda: LinearSVC(C=0.5)  # noqa: E731
    return {
        "bench baseline: word 1-2 + char_wb 2-5": (lambda: make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)), svm),
        "encoder words + 3-5-grams (former encoder)": (lambda: encoder_bag(3, 5), svm),
        "encoder words + 2-5-grams": (lambda: encoder_bag(2, 5), svm),
        "encoder words + 2-4-grams (encoder default)": (lambda: encoder_bag(2, 4), svm),
        "encoder 2-4-grams, no words": (lambda: encoder_bag(2, 4, with_words=False), svm),
        "encoder words + 2-4-grams, logistic regression": (lambda: encoder_bag(2, 4),
                                                           lambda: LogisticRegression(C=20, max_iter=300)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="hs-ngrams-") as work:
        prepare([BUNDLED_DATASET], DATA_DIR, Path(work), PrepareOptions(nomenclature="exclude", upsample=False))
        train, validation, test = (read_split(Path(work) / f"{name}.csv") for name in ("train", "validation", "test"))
    for name, (features, classifier) in variants().items():
        started = time.perf_counter()
        vectorizer = features()
        model = classifier().fit(vectorizer.fit_transform(train["text"]), train["hs_code"])
        scores = {split: float(np.mean(model.predict(vectorizer.transform(frame["text"])) == frame["hs_code"]))
                  for split, frame in (("validation", validation), ("test_fpo", test))}
        results.append({"variant": name, **scores, "seconds": round(time.perf_counter() - started, 1)})
        print(f"{name:50s} validation {scores['validation']:.3f}  test_fpo {scores['test_fpo']:.3f}", flush=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
