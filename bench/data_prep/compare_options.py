"""Quick TF-IDF + linear-classifier check of the data-preparation options (not the project's model).

Question 1: do the official nomenclature rows help test_fpo HS6 accuracy? (--nomenclature include|exclude)
Question 2: does up-sampling (duplicate or token dropout) help validation HS6 accuracy?

Each variant runs `prepare` on the bundled data, then fits TF-IDF (word 1-2-grams + char_wb 2-5-grams) and a
linear classifier on train.csv, and scores validation.csv and test.csv. Usage:
    python bench/data_prep/compare_options.py [--classifier linearsvc|sgd] [--out bench/data_prep/results.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from pipelines.settings import BUNDLED_DATASET, DATA_DIR
from steps.hsml.prepared import read_split
from steps.hsml.preparation import PrepareOptions, prepare

MAX_WORD_FEATURES = 40_000
MAX_CHAR_FEATURES = 60_000
VARIANTS = {
    "exclude_nomenclature, no upsampling": PrepareOptions(nomenclature="exclude", upsample=False),
    "exclude_nomenclature, duplicate to 5": PrepareOptions(nomenclature="exclude", upsample_floor=5),
    "exclude_nomenclature, token_dropout to 5": PrepareOptions(nomenclature="exclude", upsample_floor=5,
                                                              upsample_method="token_dropout"),
    "include_nomenclature, no upsampling": PrepareOptions(nomenclature="include", upsample=False),
    "include_nomenclature, duplicate to 5": PrepareOptions(nomenclature="include", upsample_floor=5),
}


class CentroidClassifier:
    """Rocchio: score = cosine between the row and each class's mean TF-IDF vector (linear, trains in seconds).

    Used where a one-vs-rest LinearSVC/SGD over 5,613 classes and 35k long official texts takes too long on CPU.
    """

    def fit(self, features, labels):
        self.classes_, codes = np.unique(labels, return_inverse=True)
        membership = csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))),
                                shape=(len(self.classes_), len(codes)))
        self.centroids_ = normalize(membership @ features)
        return self

    def predict(self, features):
        scores = features @ self.centroids_.T
        return self.classes_[np.asarray(scores.argmax(axis=1)).ravel()]


class CosineKNN:
    """k nearest training rows by cosine, votes weighted by similarity (the SOURCES.md sanity baseline)."""

    def __init__(self, k: int = 5):
        self.k = k

    def fit(self, features, labels):
        self.features_, self.labels_ = features, np.asarray(labels)
        return self

    def predict(self, features):
        similarities = (features @ self.features_.T).toarray()
        predictions = []
        for row in similarities:
            nearest = np.argpartition(-row, self.k)[: self.k]
            votes: dict[str, float] = {}
            for index in nearest:
                votes[self.labels_[index]] = votes.get(self.labels_[index], 0.0) + row[index]
            predictions.append(max(votes, key=votes.get))
        return np.asarray(predictions)


def accuracy(model, vectorize, frame) -> float:
    predicted = model.predict(vectorize(frame["text"]))
    return round(float((predicted == frame["hs_code"].to_numpy()).mean()), 4)


def evaluate(folder: Path, classifier: str) -> dict:
    train, validation, test = (read_split(folder / f"{name}.csv") for name in ("train", "validation", "test"))
    # Capped vocabularies: a dense weight matrix of 5,613 classes x all n-grams would not fit in memory.
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=MAX_WORD_FEATURES)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2,
                           max_features=MAX_CHAR_FEATURES)
    originals = train.loc[train["upsampled"] == "0", "text"]  # copies must not change the vocabulary or idf
    word.fit(originals)
    char.fit(originals)

    def vectorize(texts):
        return hstack([word.transform(texts), char.transform(texts)]).tocsr()

    features = vectorize(train["text"])

    if classifier == "linearsvc":
        model = LinearSVC(C=0.5)
    elif classifier == "knn":
        model = CosineKNN()
    elif classifier == "centroid":
        model = CentroidClassifier()
    else:
        model = SGDClassifier(loss="hinge", alpha=2e-5, max_iter=8, tol=None, n_jobs=-1, random_state=0)
    started = time.perf_counter()
    model.fit(features, train["hs_code"].to_numpy())
    fit_seconds = round(time.perf_counter() - started, 1)
    return {"train_rows": len(train), "validation_rows": len(validation), "test_rows": len(test), "classes": int(train["hs_code"].nunique()), "features": features.shape[1],
            "validation_accuracy": accuracy(model, vectorize, validation),
            "test_fpo_accuracy": accuracy(model, vectorize, test), "fit_seconds": fit_seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--classifier", choices=("linearsvc", "sgd", "centroid", "knn"), default="sgd")
    parser.add_argument("--only", default="", help="run only variants whose name contains this")
    parser.add_argument("--out", default="bench/data_prep/results.json")
    args = parser.parse_args()
    results = {}
    for name, options in VARIANTS.items():
        if args.only not in name:
            continue
        with tempfile.TemporaryDirectory() as folder:
            prepare([BUNDLED_DATASET], DATA_DIR, folder, options)
            results[name] = evaluate(Path(folder), args.classifier)
        print(name, results[name], flush=True)
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.setdefault(args.classifier, {}).update(results)
    out.write_text(json.dumps(previous, indent=1))


if __name__ == "__main__":
    main()
