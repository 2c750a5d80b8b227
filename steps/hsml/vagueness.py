"""The "too vague to classify" detector at run time: a logistic regression over TF-IDF features, as plain JSON.

HMRC's Frontier Pathfinder (FPO) service refuses descriptions such as "gift", "10.00, boys" or "Merchandise":
nobody can give them an HS code. The detector scores a normalised description (steps/hsml/text.py's output)
and says whether it looks like one of those. It is fitted in data preparation (vagueness_training.py) on
HMRC's 4,451 real vague FPO descriptions against the real training descriptions, and travels inside the model
dir as vagueness.json, so serving needs neither scikit-learn nor numpy: this module is stdlib only (the TF
Serving hook imports it from the model's code/ folder; keep it free of other project imports).

Features of a normalised text (lower case, words split on spaces):
    w:<word>            each word
    b:<word> <word>     each pair of neighbouring words
    c:<n-gram>          character 2- to 4-grams of each word with "<" and ">" marking its ends
    n:<words>           the number of words, 1 to 4, "4" meaning 4 or more (vague texts are short)
Weights: sublinear term frequency (1 + ln tf) times the feature's idf, the vector L2-normalised (scikit-learn's
TfidfVectorizer with sublinear_tf), then p = sigmoid(weights . coef + intercept). A text is vague when p reaches
the threshold chosen in preparation (at most 1 % false refusals of each source's real rows, out of fold).

`listed` texts score 1.0: HMRC's vague terms that the detector was fitted on and that no labelled row of the data
has ("gift", "10.00, boys"). HMRC refused exactly these words; the regression, held to 1 % false refusals on real
FPO declarations (many of which read much like them), scores some of them below its threshold.
"""
from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from dataclasses import dataclass

FORMAT = "hsml-vague-detector-v1"
NGRAM_MIN, NGRAM_MAX = 2, 4
MAX_WORD_COUNT_FEATURE = 4
# Held-out share of the vague terms, by a hash of the normalised text: never trained on, measured on.
HELD_OUT_BUCKETS, HELD_OUT_BUCKET = 5, 0
REASON = "too vague to classify"


def features(text: str) -> Counter:
    """Feature -> count for one normalised text (the module docstring's list)."""
    words = text.split()
    found: Counter = Counter()
    for word in words:
        found.update(_word_features(word))
    for left, right in zip(words, words[1:]):
        found[f"b:{left} {right}"] += 1
    found[f"n:{min(len(words), MAX_WORD_COUNT_FEATURE)}"] += 1
    return found


@functools.lru_cache(maxsize=65536)
def _word_features(word: str) -> tuple[str, ...]:
    """The word and its character n-grams: words repeat, so each is cut into n-grams once."""
    marked = f"<{word}>"
    return (f"w:{word}", *(f"c:{marked[start:start + n]}" for n in range(NGRAM_MIN, NGRAM_MAX + 1)
                           for start in range(len(marked) - n + 1)))


def is_held_out(text: str) -> bool:
    """Whether a (normalised) vague term is in the held-out split: deterministic, by its sha256."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % HELD_OUT_BUCKETS == HELD_OUT_BUCKET


@dataclass
class VagueDetector:
    weights: dict[str, tuple[float, float]]  # feature -> (idf, coefficient)
    intercept: float
    threshold: float
    info: dict  # how it was fitted and what it measured (vagueness_training.py)
    listed: frozenset[str] = frozenset()  # normalised texts that are vague as they stand (module docstring)

    @classmethod
    def from_dict(cls, payload: dict) -> VagueDetector:
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise ValueError(f"not a vague-description detector: format {found!r}, expected {FORMAT!r}")
        weights = {name: (float(idf), float(coef)) for name, (idf, coef) in payload["features"].items()}
        return cls(weights, float(payload["intercept"]), float(payload["threshold"]), dict(payload.get("info", {})),
                   frozenset(payload.get("listed", ())))

    def to_dict(self) -> dict:
        return {"format": FORMAT, "intercept": self.intercept, "threshold": self.threshold, "info": self.info,
                "listed": sorted(self.listed), "features": {name: [idf, coef] for name, (idf, coef) in sorted(self.weights.items())}}

    def score(self, text: str) -> float:
        """Probability that the normalised text is too vague to classify (1.0 for a listed text)."""
        if text in self.listed:
            return 1.0
        weighted = {}
        for name, count in features(text).items():
            known = self.weights.get(name)
            if known is not None:
                weighted[name] = (1.0 + math.log(count)) * known[0]
        norm = math.sqrt(sum(w * w for w in weighted.values())) or 1.0
        margin = self.intercept + sum(w * self.weights[name][1] for name, w in weighted.items()) / norm
        return 1.0 / (1.0 + math.exp(-margin)) if margin > -500 else 0.0

    def is_vague(self, text: str) -> bool:
        return self.score(text) >= self.threshold

    def summary(self) -> dict:
        """What metadata.json says of it: the threshold, the feature count and the measurements."""
        return {"threshold": self.threshold, "features": len(self.weights), "listed": len(self.listed), **self.info}
