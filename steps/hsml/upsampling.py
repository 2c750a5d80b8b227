"""Stratified up-sampling of rare classes in the training split (never validation or test).

Each class with fewer than `floor` training rows gets extra rows up to the floor. The extra rows cycle through
the class's rows in a seeded shuffled order, so a class with 2 rows and a floor of 5 gets each row once more
and one of them twice, not one row three times.

Methods:
- `duplicate`: exact copies (the published design's stratified up-sampling).
- `token_dropout`: each copy loses one random word (if it has at least 3), a cheap text augmentation: the model
  sees "mens cotton t shirt" and "mens t shirt" for the same class, instead of the same string twice.
  (SMOTE does not apply: it interpolates feature vectors, but our model's input is the text itself.)
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

METHODS = ("duplicate", "token_dropout")


@dataclass
class UpsampledRow:
    source_index: int  # the training row it copies
    text: str  # the (possibly augmented) normalised text


def upsample(texts: list[str], codes: list[str], *, floor: int, method: str = "duplicate",
             seed: int = 42) -> list[UpsampledRow]:
    """Extra rows that bring every class up to `floor` rows."""
    if method not in METHODS:
        raise ValueError(f"unknown up-sampling method {method!r}; choose one of {', '.join(METHODS)}")
    rng = random.Random(seed)
    rows_by_class: dict[str, list[int]] = defaultdict(list)
    for index, code in enumerate(codes):
        rows_by_class[code].append(index)
    extra: list[UpsampledRow] = []
    for code in sorted(rows_by_class):
        rows = rows_by_class[code]
        missing = floor - len(rows)
        if missing <= 0:
            continue
        order = rows[:]
        rng.shuffle(order)
        for k in range(missing):
            index = order[k % len(order)]
            text = _drop_one_token(texts[index], rng) if method == "token_dropout" else texts[index]
            extra.append(UpsampledRow(index, text))
    return extra


def _drop_one_token(text: str, rng: random.Random) -> str:
    tokens = text.split()
    if len(tokens) < 3:
        return text
    del tokens[rng.randrange(len(tokens))]
    return " ".join(tokens)
