"""Checks that say whether a model generalises beyond text like its training text.

In-domain validation rows look like the training rows: short, clean, from the same two sources. Real traffic does
not: e-commerce listing titles are long and keyword-stuffed, and on such text an overfitted network falls back to
the class prior (it predicts the commonest training code for most inputs). These helpers build that kind of text
from rows we have, with labels unchanged, and measure the collapse:

- `long_text_probe`: the description padded with listing filler ("pad"), or followed by another description of the
  same code ("concat"). A model that reads the product words keeps its answer; one swamped by length does not.
- `commonest_share`: the share of predictions taken by the single commonest code (predicted-class concentration);
  compare it with the same share among the true codes.
- `source_rows`: the rows of one source, for the cross-source check (train on HMRC search terms, score FPO
  declarations, and the other way round).

Pure functions, no I/O; deterministic given the seed.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence

import pandas as pd

HMRC_SEARCH_SOURCE = "uk_hmrc_search_references"
FPO_SOURCE = "uk_fpo_extra_references"
REAL_SOURCES = (FPO_SOURCE, HMRC_SEARCH_SOURCE)

PROBE_KINDS = ("pad", "concat")

# Listing filler: written by hand for this project from the common shapes of marketplace titles (no outside data
# or word list was used). The rule for every entry: it must not change the HS code of the product it is added to.
# So no product nouns ("set", "kit", "box", "case"), no materials ("cotton", "steel", "plastic"), no gender or age
# words (men's and women's garments are different subheadings: 6203 vs 6204; babies' garments are 6111), no
# function words that decide a code ("electric", "portable", "waterproof", "handmade", "vintage", "christmas",
# "fashion" as in imitation jewellery 7117), no single colours (white chocolate is 1704, black tea 0902.30) and no
# sizes ("small", "large"). Brand-like tokens are made up, so no real brand hints at a product.
MARKETING_WORDS: tuple[str, ...] = (
    "new", "brand new", "new arrival", "hot sale", "best seller", "bestseller", "top rated", "free shipping",
    "free delivery", "fast dispatch", "uk stock", "in stock", "uk seller", "premium", "premium quality",
    "high quality", "top quality", "best quality", "luxury", "deluxe", "classic", "elegant", "stylish", "trendy",
    "cute", "amazing", "perfect", "ideal gift", "gift", "gift idea", "great gift", "original", "genuine",
    "authentic", "official", "limited edition", "exclusive", "upgraded", "latest", "improved", "2024", "2025",
    "2024 new", "wholesale", "best price", "low price", "discount", "sale", "clearance", "offer", "deal",
    "special offer", "5 star", "no 1", "1 pcs", "1pc", "100% brand new", "must have", "popular",
    "multi colour", "assorted colours", "one size",
    "zorvex", "kelnara", "vantiq", "lumora", "brixel", "quenda", "official store", "zorvex official",
)


def long_text_probe(descriptions: Sequence[str], codes: Sequence[str], *, kind: str = "pad",
                    seed: int = 0) -> tuple[list[str], list[str]]:
    """Long, listing-like versions of `descriptions`, with their `codes` unchanged.

    kind="pad": filler before and after each description until it is about 3-4x its length (like keyword-stuffed
    titles). kind="concat": each description followed by the description of another row of the same code (its own
    again when the code has one distinct text), with one filler phrase between and one after.
    """
    descriptions, codes = list(descriptions), [str(code) for code in codes]
    if len(descriptions) != len(codes):
        raise ValueError(f"long_text_probe: {len(descriptions)} descriptions but {len(codes)} codes")
    if kind not in PROBE_KINDS:
        raise ValueError(f"long_text_probe: kind must be one of {PROBE_KINDS}, got {kind!r}")
    for position, text in enumerate(descriptions):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"long_text_probe: description {position} is empty or not a string: {text!r}")
    rng = random.Random(seed)
    if kind == "pad":
        return [_pad(text, rng) for text in descriptions], codes
    return _concat(descriptions, codes, rng), codes


def _pad(text: str, rng: random.Random) -> str:
    target = len(text) * rng.uniform(3.0, 4.0)
    before, after = [rng.choice(MARKETING_WORDS)], [rng.choice(MARKETING_WORDS)]
    while len(" ".join([*before, text, *after])) < target:
        (before if rng.random() < 0.5 else after).append(rng.choice(MARKETING_WORDS))
    return " ".join([*before, text, *after])


def _concat(descriptions: list[str], codes: list[str], rng: random.Random) -> list[str]:
    texts_of_code: dict[str, list[str]] = {}
    for text, code in zip(descriptions, codes):
        texts_of_code.setdefault(code, [])
        if text not in texts_of_code[code]:
            texts_of_code[code].append(text)
    probes = []
    for text, code in zip(descriptions, codes):
        others = [other for other in texts_of_code[code] if other != text] or [text]
        probes.append(" ".join([text, rng.choice(MARKETING_WORDS), rng.choice(others), rng.choice(MARKETING_WORDS)]))
    return probes


def commonest_share(codes: Iterable[str]) -> tuple[str, float]:
    """The most frequent code and the share of `codes` it takes (ties: the code that sorts first)."""
    counts = Counter(str(code) for code in codes)
    if not counts:
        raise ValueError("commonest_share: no codes given")
    code, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
    return code, count / sum(counts.values())


def source_rows(frame: pd.DataFrame, sources: str | Iterable[str]) -> pd.DataFrame:
    """The rows of a prepared or raw frame whose `source` is one of `sources` (a copy; the index is kept)."""
    if "source" not in frame.columns:
        raise ValueError(f"source_rows: the frame has no 'source' column (columns: {list(frame.columns)})")
    wanted = {sources} if isinstance(sources, str) else set(sources)
    if not wanted:
        raise ValueError("source_rows: no sources given")
    return frame.loc[frame["source"].isin(wanted)].copy()


def probe_report(predict_top1, descriptions: Sequence[str], codes: Sequence[str], *,
                 kinds: Sequence[str] = PROBE_KINDS, seed: int = 0) -> dict:
    """HS6/HS4/HS2 top-1 accuracy on the long-text probes of (descriptions, codes), and the share of the
    commonest predicted code against the share of the commonest true code.

    `predict_top1(texts) -> list[str]`: one predicted code per text ("" for a row it cannot classify: wrong)."""
    codes = [str(code) for code in codes]
    true_code, true_share = commonest_share(codes)
    per_kind, pooled_true, pooled_predicted = {}, [], []
    for kind in kinds:
        texts, kind_codes = long_text_probe(descriptions, codes, kind=kind, seed=seed)
        predicted = [str(code) for code in predict_top1(texts)]
        if len(predicted) != len(texts):
            raise ValueError(f"probe_report: {len(texts)} probe texts but {len(predicted)} predictions")
        per_kind[kind] = _level_accuracies(kind_codes, predicted)
        pooled_true += kind_codes
        pooled_predicted += predicted
    report = _level_accuracies(pooled_true, pooled_predicted)
    report.update({"rows": len(codes), "probe_rows": len(pooled_true), "kinds": per_kind, "seed": seed,
                   "true_commonest_code": true_code, "true_commonest_share": true_share})
    return report


def _level_accuracies(true_codes: list[str], predicted: list[str]) -> dict:
    code, share = commonest_share(predicted)
    n = len(true_codes)
    return {
        **{f"hs{digits}_top1_accuracy": sum(t[:digits] == p[:digits] and p != "" for t, p in
                                             zip(true_codes, predicted)) / n for digits in (6, 4, 2)},
        "commonest_predicted_code": code, "commonest_predicted_share": share,
    }
