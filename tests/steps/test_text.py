"""The shared normaliser: training and serving must see exactly the same text."""
import gzip
import csv

import pytest

from pipelines.settings import BUNDLED_DATASET
from steps.hsml.text import normalize_description, tokenize


@pytest.mark.parametrize("raw, expected", [
    ("Men's Cotton T-Shirt", "mens cotton t shirt"),  # case, apostrophe, hyphen
    ("Fish &amp;amp; Chips", "fish chips"),  # double-escaped HTML entity
    ("１００％ ＣＯＴＴＯＮ", "0 % cotton"),  # full-width characters
    ("Crème Brûlée", "creme brulee"),  # accents
    ("1 x dolly mixture 800g (4x200)", "0 x dolly mixture 0 g 0 x 0"),  # glued units and multipliers
    ("500 grams sugar", "0 g sugar"),  # unit spellings collapse
    ("2.5kg bag", "0 kg bag"),
    ("price 1,000.50 usd", "price 0 usd"),  # any number is one token
    ("made in china", "made in china"),  # "in" is a unit only after a number
    ("12 inches", "0 in"),
    ("футболка", "футболка"),  # other scripts survive
    ("ボールペン", "ボールペン"),  # marks that are part of a non-Latin letter stay (ボ is not ホ)
    ("Ångström", "angstrom"),
    ("", ""),
    ("!!! ---", ""),
])
def test_normalize_description(raw, expected):
    assert normalize_description(raw) == expected


def test_non_strings_are_refused():
    with pytest.raises(TypeError):
        normalize_description(None)


def test_idempotent_on_every_real_description_of_the_bundled_data():
    with gzip.open(BUNDLED_DATASET, "rt", encoding="utf-8", newline="") as handle:
        real = [row["description"] for row in csv.DictReader(handle) if row["split"] != "train_nomenclature"]
    assert len(real) == 6312
    once = [normalize_description(d) for d in real]
    assert [normalize_description(t) for t in once] == once


def test_tokenize_is_a_whitespace_split():
    assert tokenize("mens cotton t shirt") == ["mens", "cotton", "t", "shirt"]
    assert tokenize("") == []
