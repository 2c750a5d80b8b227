"""Fitting the "too vague to classify" detector (run time: vagueness.py), in data preparation.

Positives: HMRC's real vague FPO descriptions (data/hmrc_vague_terms.csv, one a line, no header), normalised
and deduplicated, less the held-out fifth (vagueness.is_held_out, by hash) that it never trains on. Negatives:
the real training descriptions. A logistic regression (scikit-learn, liblinear, class-balanced) over the
features of vagueness.py, with their idf from the training texts. The threshold is chosen on held-out real
rows: the lowest score that refuses at most MAX_FALSE_REFUSALS of the validation split's rows **of each source**.

Why per source: the vague terms are FPO declarations, and most real training rows are HMRC search terms, so a
detector fitted on the pooled rows learns "reads like a declaration" as much as "says nothing": on validation it
refused 3.3 % of the FPO rows against 0.3 % of the search terms at one pooled 1 % threshold. So each source's
negatives get the same total weight in the fit, and the threshold holds the false-refusal rate on every source.
Recall is measured on the held-out vague terms and false refusals on the validation rows (also per source);
they go into the detector's `info`.
"""
from __future__ import annotations

import csv
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from steps.hsml.vagueness import VagueDetector, features, is_held_out

VAGUE_TERMS_FILE = "hmrc_vague_terms.csv"
MAX_FALSE_REFUSALS = 0.01  # of real validation rows
MIN_DOCUMENT_FREQUENCY = 2
MIN_ABS_COEFFICIENT = 1e-3  # features that barely move the score are dropped, to keep vagueness.json small
REGULARISATION_C = 4.0
SEED = 0


def read_vague_terms(path: str | Path) -> list[str]:
    """The raw vague descriptions: the first column of each non-empty line (the file has no header)."""
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        return [row[0] for row in csv.reader(handle) if row and row[0].strip()]


def split_vague_terms(texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """(training, held out) among the distinct non-empty normalised vague texts, by hash."""
    distinct = sorted({t for t in texts if t})
    return [t for t in distinct if not is_held_out(t)], [t for t in distinct if is_held_out(t)]


def _matrix(texts: Sequence[str], index: dict[str, int], idf):
    import numpy as np
    from scipy import sparse

    rows, columns, values = [], [], []
    for row, text in enumerate(texts):
        for name, count in features(text).items():
            column = index.get(name)
            if column is not None:
                rows.append(row)
                columns.append(column)
                values.append(1.0 + math.log(count))
    matrix = sparse.csr_matrix((values, (rows, columns)), shape=(len(texts), len(index)), dtype=np.float64)
    matrix = matrix.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix


def fit_detector(vague_texts: Sequence[str], real_texts: Sequence[str], validation_texts: Sequence[str],
                 *, max_false_refusals: float = MAX_FALSE_REFUSALS, real_sources: Sequence[str] | None = None,
                 validation_sources: Sequence[str] | None = None) -> VagueDetector:
    """The detector, its threshold and its held-out measurements. Texts are normalised already; `*_sources`
    (one per text) balance the negatives and the threshold by source (none given: one source)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    train_vague, held_out = split_vague_terms(vague_texts)
    vague_set = set(train_vague) | set(held_out)
    source_of: dict[str, str] = {}
    for text, source in zip(real_texts, real_sources or [""] * len(real_texts)):
        if text and text not in vague_set:
            source_of.setdefault(text, source)
    negatives = sorted(source_of)
    if not train_vague or not negatives:
        raise ValueError(f"cannot fit the vague detector: {len(train_vague)} vague and {len(negatives)} real texts")
    texts = train_vague + negatives
    document_frequency: Counter = Counter()
    for text in texts:
        document_frequency.update(features(text).keys())
    names = sorted(name for name, df in document_frequency.items() if df >= MIN_DOCUMENT_FREQUENCY)
    index = {name: i for i, name in enumerate(names)}
    # scikit-learn's smoothed idf over the texts the model is fitted on
    idf = np.array([math.log((1 + len(texts)) / (1 + document_frequency[n])) + 1 for n in names])
    labels = np.r_[np.ones(len(train_vague)), np.zeros(len(negatives))]
    per_source = Counter(source_of.values())
    # classes balanced, and within the real rows every source the same total weight
    weights = np.r_[np.full(len(train_vague), len(texts) / (2 * len(train_vague))),
                    [len(texts) / (2 * len(per_source) * per_source[source_of[t]]) for t in negatives]]
    model = LogisticRegression(C=REGULARISATION_C, solver="liblinear", random_state=SEED)
    model.fit(_matrix(texts, index, idf), labels, sample_weight=weights)
    coefficients = model.coef_.ravel()
    kept = {n: (float(idf[i]), float(coefficients[i])) for n, i in index.items()
            if abs(coefficients[i]) >= MIN_ABS_COEFFICIENT}
    detector = VagueDetector(kept, float(model.intercept_[0]), 0.5, {})

    sources = list(validation_sources or [""] * len(validation_texts))
    validation = [(t, s) for t, s in zip(validation_texts, sources) if t]  # a real row that reads vague counts too
    reference = validation or [(t, source_of[t]) for t in negatives]  # no validation split: the training texts
    by_source: dict[str, list[float]] = {}
    for text, source in reference:
        by_source.setdefault(source, []).append(detector.score(text))
    detector.threshold = max([0.5] + [_threshold(scores, max_false_refusals) for scores in by_source.values()])
    detector.info = {
        "fitted_on": {"vague_terms": len(train_vague), "real_texts": len(negatives), "features": len(kept),
                      "real_texts_by_source": dict(sorted(per_source.items()))},
        "threshold_chosen_on": "validation split" if validation else "training texts (no validation split)",
        "max_false_refusals": max_false_refusals,
        **measure(detector, held_out, [t for t, _ in validation]),
        "false_refusal_rate_by_source": {source: sum(s >= detector.threshold for s in scores) / len(scores)
                                         for source, scores in sorted(by_source.items()) if source and validation},
    }
    return detector


def _threshold(scores: Sequence[float], max_false_refusals: float) -> float:
    """The lowest threshold at which at most max_false_refusals of these scores reach it."""
    import numpy as np

    ordered = np.sort(scores)
    allowed = int(math.floor(max_false_refusals * len(ordered)))  # rows that may score at or above it
    return float(np.nextafter(ordered[len(ordered) - allowed - 1], np.inf)) if allowed < len(ordered) else 0.0


def measure(detector: VagueDetector, held_out_vague: Sequence[str], real_texts: Sequence[str]) -> dict:
    """Recall on held-out vague terms and the false-refusal rate on real rows (None where there is none)."""
    caught = sum(detector.is_vague(t) for t in held_out_vague)
    refused = sum(detector.is_vague(t) for t in real_texts)
    return {
        "held_out_vague_terms": len(held_out_vague),
        "recall_held_out": caught / len(held_out_vague) if held_out_vague else None,
        "real_rows": len(real_texts),
        "false_refusal_rate": refused / len(real_texts) if real_texts else None,
    }
