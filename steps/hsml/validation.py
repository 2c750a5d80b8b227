"""Row checks for labelled descriptions: what makes a description unusable, and the split names we honour.

Rules (reason names as they appear in rejected.csv and report.json):
- `empty_description`: nothing but whitespace.
- `description_too_long`: over the one length limit that prediction and serving apply too
  (steps/hsml/descriptions.py says why it is what it is).
- `code_only_description`: the description is just a code (`6109.10`, `HS code 610910`): it would teach the
  model to read labels, not goods.
- `non_text_description`: no letter in any script (`£5`, `12.50`, `---`).
- `unknown_split`: a split value other than the ones below.
"""
from __future__ import annotations

import re

from steps.hsml.descriptions import length_problem

# Split values honoured from an input `split` column. Empty means "not assigned": the step assigns it.
TEST_SPLITS = frozenset({"test", "test_fpo"})
VALIDATION_SPLITS = frozenset({"validation", "valid", "val"})
TRAIN_SPLITS = frozenset({"train"})
NOMENCLATURE_SPLITS = frozenset({"train_nomenclature"})  # official text: training only, never evaluated on
KNOWN_SPLITS = TEST_SPLITS | VALIDATION_SPLITS | TRAIN_SPLITS | NOMENCLATURE_SPLITS | {""}

# A 6- to 10-digit code as people write it: 610910, 6109.10, 6109 10 00 10 (a price like 12.50 is not one).
_CODE_NUMBER = re.compile(r"\b\d{4}(?:[.\s\-]?\d{2}){1,3}\b")
_CODE_WORDS = re.compile(r"\b(?:hs|hts|cn|taric|code|codes|hscode|tariff|commodity|no|number|heading|subheading)\b")


def description_problem(description: str) -> tuple[str, str] | None:
    """(reason, detail) when the description cannot be used, else None."""
    stripped = description.strip()
    if not stripped:
        return "empty_description", "description is empty"
    too_long = length_problem(description)
    if too_long:
        return "description_too_long", too_long
    if not any(ch.isalpha() for ch in _CODE_WORDS.sub(" ", stripped.lower())):
        if _CODE_NUMBER.search(stripped):
            return "code_only_description", "description is only a code; describe the goods instead"
        if not any(ch.isalpha() for ch in stripped):
            return "non_text_description", "description has no letters (only digits, punctuation or symbols)"
    return None


def split_problem(split: str) -> tuple[str, str] | None:
    if split.strip().lower() in KNOWN_SPLITS:
        return None
    return "unknown_split", (f"split {split!r} is not one of {', '.join(sorted(s for s in KNOWN_SPLITS if s))} "
                             "(or empty to let the step assign it)")
