"""The prepared split files (train.csv, validation.csv, test.csv) as the preprocessing step writes them.

Columns: description (raw text), text (normalised), hs_code (6-digit string, leading zeros kept), source,
origin (input file:line), upsampled (1 for an up-sampled copy, train only; with --upsample-method token_dropout
the copy's description is its augmented normalised text). Read them with `read_split` so hs_code stays a
string ("010121", not the number 10121).
"""
from __future__ import annotations

from pathlib import Path

SPLIT_FILES = {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"}
SPLIT_COLUMNS = ["description", "text", "hs_code", "source", "origin", "upsampled"]
REJECTED_COLUMNS = ["file", "line", "reason", "detail", "value"]


def read_split(path: str | Path):
    """A prepared split as a pandas DataFrame with every column a string (no NaN for empty cells)."""
    import pandas as pd  # imported here: the preprocessing step itself needs no pandas

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; pass one of {', '.join(SPLIT_FILES.values())} inside it")
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
