"""Filler copies: real training rows again, wrapped in text that says nothing about the product.

On long listing-like text the networks fell to the commonest code: the words around the product name (gift, new,
one size, colours, sizes) occur in training mostly in the commonest code's rows, so they vote for it. HMRC's real
vague FPO descriptions ("10.00, boys", "black, one size", "gift") are traffic that names no product: a training
row with some of them around it, label unchanged, teaches every model that those words decide nothing.

The terms come from data preparation (`FILLER_FILE` beside train.csv: the vague terms the vague detector trains on,
never its held-out fifth, less the 518 that are also labelled descriptions of some split, e.g. "birdseed"). The
probes of generalisation.py use their own hand-written filler; 44 of its 73 tokens also occur among the vague
terms, so the probe's gain overstates the effect on unrelated filler (docs/models.md, "Official nomenclature text
and filler copies", has the command that counts them).
"""
from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

FILLER_FILE = "filler_terms.txt"  # one normalised vague term a line, written by data preparation


def write_filler_terms(terms: list[str], directory: str | Path) -> Path:
    path = Path(directory) / FILLER_FILE
    path.write_text("".join(f"{term}\n" for term in terms), encoding="utf-8")
    return path


def read_filler_terms(directory: str | Path) -> list[str] | None:
    """The terms beside a prepared train split; None when data preparation wrote none."""
    path = Path(directory) / FILLER_FILE
    if not path.is_file():
        return None
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pad_with_filler(text: str, terms: list[str], rng: random.Random) -> str:
    """The text with 0-2 filler terms before it and 1-2 after it."""
    before = [rng.choice(terms) for _ in range(rng.randint(0, 2))]
    after = [rng.choice(terms) for _ in range(rng.randint(1, 2))]
    return " ".join([*before, text, *after])


def filler_copies(train_df: pd.DataFrame, texts: list[str], documents, terms: list[str], *,
                  seed: int) -> pd.DataFrame:
    """One padded copy of each row where `documents` is true (real rows, each once; `texts` their normalised
    text), label and source unchanged; `origin` says which row it copies. Deterministic given the seed."""
    rng = random.Random(seed)
    rows = train_df[documents].copy()
    rows["text"] = [pad_with_filler(text, terms, rng) for text, keep in zip(texts, documents) if keep]
    rows["description"] = rows["text"]
    if "origin" in rows.columns:
        rows["origin"] = "filler copy of " + rows["origin"].astype(str)
    return rows
