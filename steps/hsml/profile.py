"""The data profile (profile.json): what the real training text looks like, kept as the drift baseline.

Histograms carry their bin edges, so the drift job bins captured traffic the same way and compares with KL
divergence: bins are [edges[i], edges[i+1]), the last one closed; values beyond the last edge are counted in
the last bin (nothing falls out). Only real text is profiled (not the official nomenclature rows, not
up-sampled copies): production traffic looks like the former, never like the latter.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

import numpy as np

from steps.hsml.text import tokenize

PROFILE_FORMAT = "hsml.profile/1"
LENGTH_EDGES = [0, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 300, 500, 1000, 2500]
TOKEN_EDGES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 20, 30, 48, 100, 500]
TOP_TOKENS = 2_000


def histogram(values: Iterable[float], edges: list[float]) -> dict:
    values = np.clip(np.asarray(list(values), dtype=float), edges[0], edges[-1])
    counts, _ = np.histogram(values, bins=edges)
    total = int(counts.sum())
    return {
        "edges": list(edges),
        "counts": counts.astype(int).tolist(),
        "probabilities": [round(c / total, 6) if total else 0.0 for c in counts.tolist()],
    }


def token_distribution(texts: Iterable[str], top: int = TOP_TOKENS) -> dict:
    counts = Counter(token for text in texts for token in tokenize(text))
    total = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    kept = sum(c for _, c in ranked)
    return {"total_tokens": total, "distinct_tokens": len(counts), "top": [[t, c] for t, c in ranked],
            "other_count": total - kept}


def oov_stats(texts: Iterable[str], vocabulary: set[str]) -> dict:
    tokens = [token for text in texts for token in tokenize(text)]
    unknown = [t for t in tokens if t not in vocabulary]
    return {"tokens": len(tokens), "oov_tokens": len(unknown),
            "oov_rate": round(len(unknown) / len(tokens), 4) if tokens else 0.0,
            "distinct_oov": len(set(unknown))}


def build_profile(*, real_train_descriptions: list[str], real_train_texts: list[str], train_codes: list[str],
                  all_train_codes: list[str], evaluation_texts: dict[str, list[str]], vocabulary: set[str]) -> dict:
    """`train_codes`: codes of the real training rows; `all_train_codes`: with the nomenclature rows too.

    `evaluation_texts`: split name -> its normalised texts, for OOV rates against the training vocabulary.
    """
    class_counts = Counter(train_codes)
    chapter_counts = Counter(code[:2] for code in train_codes)
    return {
        "format": PROFILE_FORMAT,
        "rows": len(real_train_texts),
        "description_chars": histogram((len(d) for d in real_train_descriptions), LENGTH_EDGES),
        "tokens_per_description": histogram((len(tokenize(t)) for t in real_train_texts), TOKEN_EDGES),
        "token_distribution": token_distribution(real_train_texts),
        "class_counts": dict(sorted(class_counts.items())),
        "chapter_counts": dict(sorted(chapter_counts.items())),
        "class_counts_with_nomenclature": dict(sorted(Counter(all_train_codes).items())),
        "vocabulary_size": len(vocabulary),
        "oov": {name: oov_stats(texts, vocabulary) for name, texts in evaluation_texts.items()},
    }
