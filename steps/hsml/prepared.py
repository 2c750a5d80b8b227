"""The prepared split files (train.csv, validation.csv, test.csv) as the preprocessing step writes them, and the
one reader every consumer uses (training, evaluation, the benchmarks).

Columns: description (raw text), text (normalised), hs_code (6-digit string, leading zeros kept), source,
origin (input file:line), upsampled (1 for an up-sampled copy, train only; with --upsample-method token_dropout
the copy's description is its augmented normalised text). Read them with `read_split` so hs_code stays a
string ("010121", not the number 10121).
"""
from __future__ import annotations

from pathlib import Path

from steps.hsml.cli_errors import UsageError

SPLIT_FILES = {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"}
SPLIT_COLUMNS = ["description", "text", "hs_code", "source", "origin", "upsampled"]
REQUIRED_COLUMNS = ("description", "hs_code")


def split_path(location: str | Path, split: str | None = None) -> Path:
    """The split file itself, or `<location>/<split>.csv` when location is a data-preparation output folder."""
    path = Path(location)
    if split is not None and split not in SPLIT_FILES:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLIT_FILES)}")  # a bug in the caller
    expected = SPLIT_FILES[split] if split else " / ".join(SPLIT_FILES.values())
    if path.is_dir():
        if split is None:
            raise UsageError(f"{path} is a folder; pass one of {expected} inside it")
        path = path / SPLIT_FILES[split]
    if not path.is_file():
        raise UsageError(f"{path} not found: give the {expected} that data preparation wrote, or its output folder "
                         "(run `hscode data prepare INPUT... --out DIR` first)")
    return path


def read_split(location: str | Path, split: str | None = None):
    """A prepared split as a pandas DataFrame with every column a string (no NaN for empty cells).

    `location`: the CSV file, or the output folder of data preparation together with `split` ("train",
    "validation", "test"). A missing file or a file without description and hs_code columns is a UsageError.
    """
    import pandas as pd  # imported here: the preprocessing step itself needs no pandas

    path = split_path(location, split)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise UsageError(f"{path}: no column {', '.join(missing)} (has {', '.join(frame.columns) or 'none'}); "
                         "expected a split written by data preparation")
    return frame
