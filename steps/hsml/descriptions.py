"""What makes one description classifiable: the one length limit and the one per-row check.

Shared by data preparation (steps/hsml/validation.py), the predictor (steps/hsml/predictor.py) and the TF Serving
hook (steps/hsml/serving/inference.py; export copies this module and text.py into the model's code/ folder, so
it may import nothing else from the project).

The limit is 2,500 characters: every description in the bundled data fits (the real declarations are at most
130 characters and the official nomenclature text with its ancestor context at most 2,199, see data/README.md),
and anything longer is a pasted document, not a goods description. The check runs before normalisation, so a
1 MB row costs a length test, not a pass of the normaliser, and gets its
own error while the other rows of the request are answered.
"""
from __future__ import annotations

import math

from steps.hsml.text import normalize_description

MAX_DESCRIPTION_CHARS = 2_500


def length_problem(description: str) -> str | None:
    """The message for a description over the limit, else None."""
    if len(description) <= MAX_DESCRIPTION_CHARS:
        return None
    return (f"description has {len(description):,} characters, over the limit of {MAX_DESCRIPTION_CHARS:,}; "
            "send one product description per row, not a document")


def check_description(description) -> tuple[str | None, str | None]:
    """(normalised text, None) for a row that can be classified, else (None, a message saying what to fix)."""
    if description is None or (isinstance(description, float) and math.isnan(description)):
        return None, "description is missing"
    if not isinstance(description, str):
        return None, f"description must be text, got {type(description).__name__}"
    problem = length_problem(description)
    if problem:
        return None, problem
    normalised = normalize_description(description)
    if not normalised:
        return None, "description is empty after normalisation (blank or only punctuation); describe the product"
    return normalised, None
