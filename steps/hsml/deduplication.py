"""Duplicates and label conflicts among the valid rows of data preparation."""
from __future__ import annotations

from collections import defaultdict
from typing import Protocol

from steps.hsml import splitting

CONFLICT_EXAMPLES = 10
# Hint order decides which copy of a duplicate is kept: the copy in the split the input fixed wins.
HINT_PRIORITY = {splitting.HINT_TEST: 0, splitting.HINT_VALIDATION: 1, splitting.HINT_TRAIN: 2,
                 splitting.HINT_NONE: 3, splitting.HINT_NOMENCLATURE: 4}


class LabelledRow(Protocol):
    file: str
    line: int
    text: str
    hs_code: str
    source: str
    hint: str


def deduplicate(rows: list[LabelledRow]) -> tuple[list[LabelledRow], int]:
    """One row per (normalised text, code), the copy whose given split ranks first (test before train); returns
    (kept rows in file order, duplicates dropped)."""
    kept: dict[tuple[str, str], LabelledRow] = {}
    duplicates = 0
    for row in sorted(rows, key=lambda r: HINT_PRIORITY[r.hint]):  # stable: file order within a priority
        key = (row.text, row.hs_code)
        if key in kept:
            duplicates += 1
        else:
            kept[key] = row
    return sorted(kept.values(), key=lambda r: (r.file, r.line)), duplicates


def conflicts(rows: list[LabelledRow]) -> dict:
    """Texts with more than one code: kept (the ambiguity is real), counted and shown."""
    codes_by_text: dict[str, list[LabelledRow]] = defaultdict(list)
    for row in rows:
        codes_by_text[row.text].append(row)
    ambiguous = {text: group for text, group in codes_by_text.items() if len(group) > 1}
    examples = [
        {"text": text, "codes": sorted(r.hs_code for r in group), "sources": sorted({r.source for r in group})}
        # Real-text conflicts first: those are the ones a reviewer can act on.
        for text, group in sorted(ambiguous.items(), key=lambda kv: (_all_nomenclature(kv[1]), -len(kv[1]), kv[0]))
    ][:CONFLICT_EXAMPLES]
    real = [group for group in ambiguous.values() if not _all_nomenclature(group)]
    return {"texts": len(ambiguous), "rows": sum(len(g) for g in ambiguous.values()),
            "texts_with_real_rows": len(real), "examples": examples}


def _all_nomenclature(group: list[LabelledRow]) -> bool:
    return all(r.hint == splitting.HINT_NOMENCLATURE for r in group)
