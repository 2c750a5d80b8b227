"""The one text normaliser shared by training and serving, so both see exactly the same text.

Product descriptions arrive messy: HTML entities from web forms, full-width characters from Asian shippers,
accents, glued units ("800g", "2x200ml") and stray punctuation. `normalize_description` maps all of that onto
a small, predictable alphabet; `tokenize` then only has to split on spaces (which TensorFlow can do in-graph).
"""
from __future__ import annotations

import html
import re
import unicodedata

NORMALIZER_VERSION = "2"
NUMBER_TOKEN = "0"

# Spellings of the same unit collapse to one token, so "500 grams", "500gr" and "500g" look alike.
_UNIT_ALIASES = {
    "g": "g", "gr": "g", "grs": "g", "gram": "g", "grams": "g", "gm": "g", "gms": "g",
    "kg": "kg", "kgs": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
    "mg": "mg", "ml": "ml", "mls": "ml", "millilitre": "ml", "milliliter": "ml", "millilitres": "ml",
    "cl": "cl", "l": "l", "ltr": "l", "ltrs": "l", "lt": "l", "litre": "l", "liter": "l", "litres": "l", "liters": "l",
    "mm": "mm", "cm": "cm", "m": "m", "mtr": "m", "mtrs": "m", "metre": "m", "meter": "m", "metres": "m", "meters": "m",
    "in": "in", "inch": "in", "inches": "in", "oz": "oz", "lb": "lb", "lbs": "lb",
    "pc": "pcs", "pcs": "pcs", "piece": "pcs", "pieces": "pcs", "pk": "pack", "pack": "pack", "packs": "pack",
    "x": "x", "%": "%",
}

_APOSTROPHES = re.compile(r"['’`´]")
# A number glued to a unit or to a multiplier: "800g" -> "800 g", "4x200" -> "4 x 200", "x2" -> "x 2".
_NUMBER_BOUNDARY = re.compile(r"(?<=\d)(?=[^\d\s.,])|(?<=[^\d\s.,])(?=\d)")
_NON_WORD = re.compile(r"[^\w%]+|_")  # keep letters of every script, digits and %
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")


def normalize_description(text: str) -> str:
    """Return the canonical form of one product description (idempotent: normalising twice changes nothing)."""
    if not isinstance(text, str):
        raise TypeError(f"description must be a string, got {type(text).__name__}")
    text = html.unescape(html.unescape(text))  # twice: exports often double-escape ("&amp;amp;")
    if text.isascii():  # most rows: NFKC/NFKD leave ASCII unchanged and it has no accents to strip
        text = text.casefold()
    else:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = _strip_latin_accents(text)
    text = _APOSTROPHES.sub("", text)  # "men's" -> "mens", not "men s"
    text = _NUMBER_BOUNDARY.sub(" ", text)
    tokens = []
    for raw_token in text.split():
        if _NUMBER.match(raw_token.strip(".,")):
            tokens.append(NUMBER_TOKEN)
            continue
        for token in _NON_WORD.sub(" ", raw_token).split():
            if token.isdigit():
                tokens.append(NUMBER_TOKEN)
            else:
                tokens.append(_UNIT_ALIASES.get(token, token) if _previous_is_number(tokens) else token)
    return " ".join(tokens)


def _strip_latin_accents(text: str) -> str:
    """"crème" -> "creme", so accented and plain spellings share tokens.

    Only marks on ASCII letters go: in other scripts a combining mark is part of the letter
    (Japanese ボ is ホ plus a voicing mark) and dropping it would turn one word into another.
    """
    kept: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch) and kept and kept[-1].isascii():
            continue
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def _previous_is_number(tokens: list[str]) -> bool:
    # Unit aliases apply only right after a number: "in" stays "in" in "made in china".
    return bool(tokens) and tokens[-1] == NUMBER_TOKEN


def tokenize(normalized_text: str) -> list[str]:
    """Words of an already normalised description (TensorFlow's whitespace split gives the same result)."""
    return normalized_text.split()
