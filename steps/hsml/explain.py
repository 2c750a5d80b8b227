"""Why the model chose a code: deterministic word occlusion, the same for every model type.

For a normalised description of n words and each of its top codes, the model scores n + 1 texts: the
description, and the description with one word left out (every occurrence of it, so a repeated word counts
once). A word's weight for a code is the drop in that code's probability when the word is gone:
p(code | text) - p(code | text without the word). Positive: the word pulled towards the code; negative: it
pulled away. All the variants of all rows and codes go to the model in one call (the SavedModel's score_codes
signature, steps/hsml/export.py), so an explanation costs one extra model call per request, whatever the model.
A text left empty (a one-word description without its word) is not sent: it scores 0, so the word's weight is
the whole score (a model's answer to an empty text is no baseline: pooling over no word gives NaN).

Why occlusion and not the wide part's weights: it needs nothing from the architecture (TextCNN, LSTM, DNN, with
or without the wide part), it is exact for what it says (the score change on removal, no gradient
approximation) and repeatable (no sampling, unlike LIME or sampled SHAP).

stdlib only: the TF Serving hook runs it (export copies it into code/), as do the predictor and the CLI.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

DEFAULT_TOP_CODES = 3
DEFAULT_TOP_TOKENS = 5

ScoreFunction = Callable[[list[str], list[str]], list[float]]  # (texts, codes) -> p(code | text), row by row


def occlusions(text: str) -> list[tuple[str, str]]:
    """(word, the text without every occurrence of it) for each distinct word, in order of first appearance."""
    words = text.split()
    return [(word, " ".join(w for w in words if w != word)) for word in dict.fromkeys(words)]


def occlusion_requests(texts: Sequence[str], codes: Sequence[Sequence[str]]) -> tuple[list[str], list[str]]:
    """The (text, code) pairs to score for `texts` and each row's codes: per row and code, the text itself,
    then each occlusion. `weights_from_scores` reads the scores back in the same order."""
    variants, variant_codes = [], []
    for text, row_codes in zip(texts, codes):
        removed = [without for _, without in occlusions(text)]
        for code in row_codes:
            variants += [text, *removed]
            variant_codes += [code] * (1 + len(removed))
    return variants, variant_codes


def weights_from_scores(texts: Sequence[str], codes: Sequence[Sequence[str]], scores: Sequence[float],
                        top_tokens: int = DEFAULT_TOP_TOKENS) -> list[list[dict]]:
    """Per row, per code: {"code", "score", "tokens": [{"token", "weight"}, ...]}, the words that weighed most
    first (by absolute weight, ties by position), at most top_tokens of them."""
    explained, position = [], 0
    for text, row_codes in zip(texts, codes):
        words = [word for word, _ in occlusions(text)]
        row = []
        for code in row_codes:
            full, removed = scores[position], scores[position + 1 : position + 1 + len(words)]
            position += 1 + len(words)
            weights = [(word, full - without) for word, without in zip(words, removed)]
            order = sorted(range(len(weights)), key=lambda i: (-abs(weights[i][1]), i))[:top_tokens]
            row.append({"code": code, "score": round(float(full), 6),
                        "tokens": [{"token": weights[i][0], "weight": round(float(weights[i][1]), 6)} for i in order]})
        explained.append(row)
    if position != len(scores):
        raise ValueError(f"{len(scores)} scores for {position} occlusion variants")
    return explained


def explain(texts: Sequence[str], codes: Sequence[Sequence[str]], score: ScoreFunction,
            top_tokens: int = DEFAULT_TOP_TOKENS) -> list[list[dict]]:
    """Occlusion weights of each row's codes, with one call of `score` for every variant."""
    variants, variant_codes = occlusion_requests(texts, codes)
    asked = [i for i, text in enumerate(variants) if text.strip()]
    scores = [0.0] * len(variants)
    if asked:
        answered = score([variants[i] for i in asked], [variant_codes[i] for i in asked])
        for i, value in zip(asked, answered):
            scores[i] = float(value) if math.isfinite(value) else 0.0
    return weights_from_scores(texts, codes, scores, top_tokens)
