"""Accuracy of HS-code predictions, at the three levels customs people care about, and in SageMaker's format.

An HS6 code nests: its first 2 digits are the chapter (HS2), its first 4 the heading (HS4). A prediction that
gets the heading right but not the subheading is still useful to a broker, so every accuracy is reported at
HS2, HS4 and HS6, each from the model's top-k list ("right at HS4 within the top 3" = one of the first three
codes shares the true code's first 4 digits).

Predictions come in the predictor's format: one list of (code, probability) pairs per row, best first.
Everything here is plain numpy/scikit-learn so the evaluation container needs no TensorFlow to score.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, fbeta_score, precision_recall_fscore_support

LEVELS = (2, 4, 6)
TOP_KS = (1, 3, 5)
ACCURACY_TARGETS = (0.90, 0.95)
# An answer whose top-1 probability reaches `accept_threshold` is auto-accepted by serving (decision "accept"), the
# rest go to a broker ("review"): the lowest threshold at which the test rows above it are this accurate (the
# precision of auto-accepted answers). When no threshold gets there, NEVER_ACCEPT (above any probability).
ACCEPT_PRECISION = 0.95
NEVER_ACCEPT = 1.01
# Model Monitor's recipe for standard deviations: the metric on 5 random 80% samples of the rows.
STD_SAMPLES = 5
STD_FRACTION = 0.8

Prediction = Sequence[tuple[str, float]]


def chapter(code: str) -> str:
    return str(code)[:2]


def top_codes(predictions: Sequence[Prediction], k: int) -> list[list[str]]:
    return [[str(code) for code, _ in row[:k]] for row in predictions]


def top1(predictions: Sequence[Prediction]) -> tuple[list[str], np.ndarray]:
    """Best code and its probability per row ("" and 0.0 where the model returned nothing)."""
    codes = [str(row[0][0]) if len(row) else "" for row in predictions]
    probabilities = np.array([float(row[0][1]) if len(row) else 0.0 for row in predictions], dtype=float)
    return codes, probabilities


def topk_accuracy(y_true: Sequence[str], predictions: Sequence[Prediction], k: int, digits: int = 6) -> float:
    """Share of rows whose true code's first `digits` digits match any of the first k predicted codes."""
    if len(y_true) != len(predictions):
        raise ValueError(f"{len(y_true)} true codes but {len(predictions)} predictions: they must align row by row")
    if not len(y_true):
        return float("nan")
    hits = sum(
        any(code[:digits] == str(truth)[:digits] for code in candidates)
        for truth, candidates in zip(y_true, top_codes(predictions, k))
    )
    return hits / len(y_true)


def topk_table(
    y_true: Sequence[str], predictions: Sequence[Prediction], ks: Iterable[int] = TOP_KS, levels: Iterable[int] = LEVELS
) -> dict[str, float]:
    """{"hs6_top1": 0.41, "hs4_top3": 0.62, ...} for every level and k."""
    return {f"hs{d}_top{k}": topk_accuracy(y_true, predictions, k, d) for d in levels for k in ks}


def classification_scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """HS6 precision/recall/F1, macro and weighted (scikit-learn; a class never predicted scores 0, not an error)."""
    scores: dict[str, float] = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        scores[f"{average}_precision"] = float(precision)
        scores[f"{average}_recall"] = float(recall)
        scores[f"{average}_f1"] = float(f1)
    for beta, name in ((0.5, "f0_5"), (2.0, "f2")):
        scores[f"weighted_{name}"] = float(fbeta_score(y_true, y_pred, beta=beta, average="weighted", zero_division=0))
    return scores


def best_constant_scores(y_true: Sequence[str]) -> dict[str, float]:
    """What always answering the most frequent test code would score (SageMaker reports it as a floor)."""
    most_common = Counter(y_true).most_common(1)[0][0]
    constant = [most_common] * len(y_true)
    scores = classification_scores(y_true, constant)
    return {
        "accuracy": scores["accuracy"],
        "weighted_precision": scores["weighted_precision"],
        "weighted_recall": scores["weighted_recall"],
        "weighted_f1": scores["weighted_f1"],
    }


def subsample_std(
    metric: Callable[[np.ndarray], float], n_rows: int, seed: int = 0
) -> float:
    """Standard deviation of `metric(row_indices)` over 5 random 80% samples, as SageMaker Model Monitor does."""
    if n_rows < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    size = max(1, int(round(n_rows * STD_FRACTION)))
    values = [metric(rng.choice(n_rows, size=size, replace=False)) for _ in range(STD_SAMPLES)]
    return float(np.std(values))


@dataclass(frozen=True)
class CoveragePoint:
    threshold: float
    accepted: int
    coverage: float  # share of rows whose top-1 probability is >= threshold (auto-accepted)
    accuracy: float | None  # HS6 top-1 accuracy among the accepted rows; None when none is accepted


def coverage_curve(
    y_true: Sequence[str], predictions: Sequence[Prediction], thresholds: Iterable[float] | None = None,
    digits: int = 6,
) -> list[CoveragePoint]:
    """Accuracy vs coverage when only predictions at or above a confidence threshold are auto-accepted.

    Customs teams send the rest to a broker, so the useful question is "how much can we automate at 95%?".
    `digits`: the level the predictions are at (4: headings, compared with the true code's first 4 digits).
    """
    thresholds = [round(t, 2) for t in (np.arange(100) / 100 if thresholds is None else thresholds)]
    codes, probabilities = top1(predictions)
    correct = np.array([bool(c) and c[:digits] == str(t)[:digits] for c, t in zip(codes, y_true)], dtype=bool)
    n = len(codes)
    curve = []
    for threshold in thresholds:
        accepted = probabilities >= threshold
        count = int(accepted.sum())
        curve.append(
            CoveragePoint(
                threshold=float(threshold),
                accepted=count,
                coverage=count / n if n else 0.0,
                accuracy=float(correct[accepted].mean()) if count else None,
            )
        )
    return curve


def threshold_for_accuracy(curve: Sequence[CoveragePoint], target: float) -> CoveragePoint | None:
    """The lowest threshold (so the widest coverage) whose accepted rows reach `target` accuracy, else None."""
    for point in sorted(curve, key=lambda p: p.threshold):
        if point.accuracy is not None and point.accuracy >= target:
            return point
    return None


def parent_predictions(predictions: Sequence[Prediction], digits: int) -> list[list[tuple[str, float]]]:
    """Each row's parent codes (first `digits` digits) ranked by the summed probability of its HS6 codes.

    Only a stand-in for a predictor that returns no parent levels: the sums cover the top-k HS6 codes, not the
    whole distribution, so they are lower bounds (the exported model sums the full distribution in its graph)."""
    ranked = []
    for row in predictions:
        sums: dict[str, float] = {}
        for code, probability in row:
            sums[str(code)[:digits]] = sums.get(str(code)[:digits], 0.0) + float(probability)
        ranked.append(sorted(sums.items(), key=lambda item: (-item[1], item[0])))
    return ranked


def expected_calibration_error(y_true: Sequence[str], predictions: Sequence[Prediction], digits: int = 6,
                               bins: int = 10) -> float:
    """Top-1 expected calibration error: the row-weighted gap between confidence and accuracy over equal-width
    probability bins (0 for probabilities that mean what they say)."""
    codes, probabilities = top1(predictions)
    correct = np.array([bool(c) and c[:digits] == str(t)[:digits] for c, t in zip(codes, y_true)], dtype=float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap += in_bin.sum() * abs(probabilities[in_bin].mean() - correct[in_bin].mean())
    return float(gap / max(len(codes), 1))


def hierarchical_answers(y_true: Sequence[str], levels: dict[str, Sequence[Prediction]],
                         thresholds: dict[str, float]) -> dict:
    """How the answers of steps/hsml/hierarchy.py fall on the test rows under these thresholds: the share answered
    at each level (deepest sure level first), and the precision of those answers at their own level."""
    from steps.hsml.hierarchy import LEVELS as ANSWER_LEVELS

    answered = {level: [0, 0] for level in ANSWER_LEVELS}  # level -> [rows, right]
    for row, truth in enumerate(y_true):
        for level in ANSWER_LEVELS:
            ranked = levels[level][row]
            if ranked and thresholds[level] <= 1 and float(ranked[0][1]) >= thresholds[level]:
                digits = int(level[2:])
                answered[level][0] += 1
                answered[level][1] += str(ranked[0][0])[:digits] == str(truth)[:digits]
                break
    n = len(y_true)
    table = {level: {"share": rows / n, "precision": right / rows if rows else None}
             for level, (rows, right) in answered.items()}
    total = sum(rows for rows, _ in answered.values())
    right = sum(r for _, r in answered.values())
    return {"levels": table, "answered_share": total / n, "precision": right / total if total else None,
            "none_share": 1 - total / n}


def per_chapter_accuracy(
    y_true: Sequence[str], predictions: Sequence[Prediction], chapter_names: dict[str, str] | None = None
) -> list[dict]:
    """One row per true chapter: rows, HS6 and HS2 top-1 accuracy, and the chapter's name when known."""
    codes, _ = top1(predictions)
    by_chapter: dict[str, list[tuple[str, str]]] = {}
    for truth, predicted in zip(y_true, codes):
        by_chapter.setdefault(chapter(truth), []).append((str(truth), predicted))
    table = []
    for ch in sorted(by_chapter):
        pairs = by_chapter[ch]
        table.append(
            {
                "chapter": ch,
                "name": (chapter_names or {}).get(ch, ""),
                "rows": len(pairs),
                "hs6_top1": sum(t == p for t, p in pairs) / len(pairs),
                "hs2_top1": sum(t[:2] == p[:2] for t, p in pairs) / len(pairs),
            }
        )
    return table


def chapter_confusion(y_true: Sequence[str], predictions: Sequence[Prediction]) -> tuple[list[str], np.ndarray]:
    """Chapter-level confusion matrix (rows: true chapter, columns: predicted chapter) over the chapters seen."""
    codes, _ = top1(predictions)
    true_chapters = [chapter(t) for t in y_true]
    predicted_chapters = [chapter(c) if c else "??" for c in codes]
    labels = sorted(set(true_chapters) | set(predicted_chapters))
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true_chapters, predicted_chapters):
        matrix[index[t], index[p]] += 1
    return labels, matrix


def unseen_labels(y_true: Sequence[str], known_labels: Iterable[str] | None) -> Counter:
    """Test codes the model was never trained on (it cannot predict them, so they count as errors)."""
    if known_labels is None:
        return Counter()
    known = {str(label) for label in known_labels}
    return Counter(str(t) for t in y_true if str(t) not in known)


def _value(value: float, std: float | None = None) -> dict:
    # SageMaker writes "NaN" (a string) for a standard deviation it cannot compute; keep JSON strict the same way.
    std_out: float | str = "NaN" if std is None or not np.isfinite(std) else float(std)
    return {"value": float(value), "standard_deviation": std_out}


def model_quality_report(
    y_true: Sequence[str],
    predictions: Sequence[Prediction],
    *,
    known_labels: Iterable[str] | None = None,
    chapter_names: dict[str, str] | None = None,
    seed: int = 0,
    level_predictions: dict[str, Sequence[Prediction]] | None = None,
) -> dict:
    """The whole evaluation as one JSON-ready dict in SageMaker's model-quality format.

    `multiclass_classification_metrics` keeps SageMaker's names (accuracy = HS6 top-1, the value the pipeline's
    quality gate reads; weighted_* and *_best_constant_classifier; confusion_matrix, here at chapter level since
    an HS6 matrix would have millions of cells). Our extra scalar metrics sit next to them as further
    {"value", "standard_deviation"} entries, so anything that reads the format (the registry, Studio) shows them.
    Tables that are not single numbers (per-chapter accuracy, the coverage curve, unseen labels) go under a
    separate top-level "hs_code_evaluation" key as lists.

    Per level (HS6, HS4, HS2): the precision-vs-coverage curve of its top-1 answers and the lowest threshold at
    which they reach ACCEPT_PRECISION: `accept_threshold` (HS6, serving's decision), `accept_threshold_hs4`,
    `accept_threshold_hs2` (NEVER_ACCEPT when not reached, so the keys are always there), with their coverage
    (`accept_coverage`, `accept_coverage_hs4`, `accept_coverage_hs2`) and each level's calibration error.
    `level_predictions` ({"hs4": ..., "hs2": ...}, ranked like `predictions`) are the model's own parent levels;
    without them they are summed from the top-k HS6 codes given (parent_predictions).
    """
    y_true = [str(t) for t in y_true]
    if len(y_true) != len(predictions):
        raise ValueError(f"{len(y_true)} true codes but {len(predictions)} predictions: they must align row by row")
    if not y_true:
        raise ValueError("the test set is empty: nothing to evaluate")
    codes, _ = top1(predictions)
    y_true_arr, codes_arr = np.array(y_true, dtype=object), np.array(codes, dtype=object)

    scores = classification_scores(y_true, codes)
    topk = topk_table(y_true, predictions)
    constant = best_constant_scores(y_true)

    def std_of(name: str) -> float:
        return subsample_std(lambda rows: classification_scores(y_true_arr[rows], codes_arr[rows])[name], len(y_true), seed)

    metrics: dict = {}
    labels, matrix = chapter_confusion(y_true, predictions)
    # Sparse: only non-zero cells, keyed true chapter -> predicted chapter -> rows, as SageMaker nests it.
    metrics["confusion_matrix"] = {
        t: {p: int(matrix[i, j]) for j, p in enumerate(labels) if matrix[i, j]} for i, t in enumerate(labels)
        if matrix[i].any()
    }
    metrics["accuracy"] = _value(scores["accuracy"], std_of("accuracy"))
    for name in ("weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2"):
        metrics[name] = _value(scores[name], std_of(name))
    for name, value in constant.items():
        metrics[f"{name}_best_constant_classifier"] = _value(value)
    for name in ("macro_precision", "macro_recall", "macro_f1"):
        metrics[name] = _value(scores[name], std_of(name))
    for name, value in topk.items():
        metrics[f"{name}_accuracy"] = _value(value)

    curve = coverage_curve(y_true, predictions)
    operating_points = []
    for target in ACCURACY_TARGETS:
        point = threshold_for_accuracy(curve, target)
        percent = int(round(target * 100))
        operating_points.append({"target_accuracy": target, **(_point_dict(point) if point else {"threshold": None})})
        if point is not None:
            metrics[f"coverage_at_{percent}_accuracy"] = _value(point.coverage)
            metrics[f"threshold_at_{percent}_accuracy"] = _value(point.threshold)

    # Serving's accept/review decision and the heading/chapter fall-backs: always present, so the pipeline can
    # register them with a JsonGet.
    levels = {"hs6": list(predictions), **{f"hs{d}": list((level_predictions or {}).get(f"hs{d}") or
                                                          parent_predictions(predictions, d)) for d in (4, 2)}}
    level_curves, level_points, level_thresholds = {}, [], {}
    for level, ranked in levels.items():
        digits = int(level[2:])
        level_curve = curve if level == "hs6" else coverage_curve(y_true, ranked, digits=digits)
        point = threshold_for_accuracy(level_curve, ACCEPT_PRECISION)
        suffix = "" if level == "hs6" else f"_{level}"
        level_thresholds[level] = point.threshold if point else NEVER_ACCEPT
        metrics[f"accept_threshold{suffix}"] = _value(level_thresholds[level])
        metrics[f"accept_coverage{suffix}"] = _value(point.coverage if point else 0.0)
        metrics[f"expected_calibration_error_{level}"] = _value(expected_calibration_error(y_true, ranked, digits))
        level_curves[level] = [_point_dict(p) for p in level_curve]
        level_points.append({"level": level, "target_precision": ACCEPT_PRECISION,
                             **(_point_dict(point) if point else {"threshold": None})})

    unseen = unseen_labels(y_true, known_labels)
    unseen_rows = sum(unseen.values())
    metrics["unseen_label_rate"] = _value(unseen_rows / len(y_true))

    return {
        "multiclass_classification_metrics": metrics,
        "hs_code_evaluation": {
            "rows": len(y_true),
            "classes_in_test": len(set(y_true)),
            "unseen_label_rows": unseen_rows,
            "unseen_labels": [{"hs_code": code, "rows": n} for code, n in sorted(unseen.items())],
            "topk_accuracy": [{"metric": k, "value": v} for k, v in topk.items()],
            "operating_points": operating_points,
            "coverage_curve": [_point_dict(p) for p in curve],
            "level_coverage_curves": level_curves,
            "level_operating_points": level_points,
            "hierarchical_answers": hierarchical_answers(y_true, levels, level_thresholds),
            "parent_levels_from": "model" if level_predictions else "summed top-k HS6",
            "per_chapter": per_chapter_accuracy(y_true, predictions, chapter_names),
        },
    }


def _point_dict(point: CoveragePoint) -> dict:
    return {"threshold": point.threshold, "accepted": point.accepted, "coverage": point.coverage, "accuracy": point.accuracy}
