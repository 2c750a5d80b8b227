"""Train / validation / test assignment: stratified by class, grouped by text, honouring given splits.

Rules:
- Rows are grouped by normalised text; a group always lands in one split, so the same text is never in two
  splits (no leakage through duplicates that differ only in case, units or numbers).
- Given splits are honoured: a group with any `test` row is test, else with any `validation` row validation.
  Official nomenclature text is training material only: a group holding a nomenclature row stays in train.
  A nomenclature row whose text is also an evaluation text is reported as leakage (the caller rejects it).
- Test is carved only from rows without a given split; validation from rows marked `train` or unassigned
  (so the bundled file's fixed `test_fpo` stays the test set and validation comes from its real `train` rows).
- Carving is stratified per class (a group's class is its first code): of a class's n eligible texts,
  n * fraction go out (the fractional part decided by a seeded coin, so totals match the fraction on average),
  keeping at least 2 in train. A class with fewer than `min_texts_per_class` eligible texts stays in train:
  it cannot be both learned and evaluated.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

TRAIN, VALIDATION, TEST = "train", "validation", "test"
# Row hints (what the input said about each row).
HINT_TEST, HINT_VALIDATION, HINT_TRAIN, HINT_NOMENCLATURE, HINT_NONE = "test", "validation", "train", "nomenclature", ""


@dataclass
class SplitResult:
    splits: list[str | None]  # per row: train | validation | test, or None when the row would leak
    carved_test_texts: int
    carved_validation_texts: int
    classes_too_small: int  # classes kept in train only because they had too few eligible texts


def assign_splits(
    texts: list[str],
    codes: list[str],
    hints: list[str],
    *,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    min_texts_per_class: int = 3,
    seed: int = 42,
) -> SplitResult:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        groups[text].append(index)

    group_split: dict[str, str] = {}
    test_pool: dict[str, list[str]] = defaultdict(list)  # class -> texts eligible for test
    for text, rows in groups.items():
        row_hints = {hints[i] for i in rows}
        if HINT_TEST in row_hints:
            group_split[text] = TEST
        elif HINT_VALIDATION in row_hints:
            group_split[text] = VALIDATION
        else:
            group_split[text] = TRAIN
            if row_hints == {HINT_NONE}:
                test_pool[codes[rows[0]]].append(text)

    rng = random.Random(seed)
    carved_test, small_test = _carve(test_pool, test_fraction, min_texts_per_class, rng)
    for text in carved_test:
        group_split[text] = TEST

    validation_pool: dict[str, list[str]] = defaultdict(list)
    for text, rows in groups.items():
        if group_split[text] == TRAIN and {hints[i] for i in rows} <= {HINT_TRAIN, HINT_NONE}:
            validation_pool[codes[rows[0]]].append(text)
    carved_validation, small_validation = _carve(validation_pool, validation_fraction, min_texts_per_class, rng)
    for text in carved_validation:
        group_split[text] = VALIDATION

    splits: list[str | None] = []
    for text, hint in zip(texts, hints):
        split = group_split[text]
        splits.append(None if hint == HINT_NOMENCLATURE and split != TRAIN else split)
    return SplitResult(splits, len(carved_test), len(carved_validation), small_validation)


def _carve(pool: dict[str, list[str]], fraction: float, min_texts: int, rng: random.Random) -> tuple[list[str], int]:
    """Pick about `fraction` of each class's texts; returns (picked texts, classes too small to carve)."""
    picked: list[str] = []
    too_small = 0
    if fraction <= 0:
        return picked, 0
    for code in sorted(pool):
        candidates = sorted(pool[code])
        if len(candidates) < min_texts:
            too_small += 1
            continue
        share = len(candidates) * fraction
        take = math.floor(share) + (1 if rng.random() < share - math.floor(share) else 0)
        take = min(take, len(candidates) - 2)
        picked.extend(rng.sample(candidates, take) if take > 0 else [])
    return picked, too_small
