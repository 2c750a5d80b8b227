"""The custom text encoder: word ids plus, for every word, the ids of its character n-grams.

Short customs descriptions are abbreviated and misspelt ("t shrt", "stainles stl sink"), so a plain word
vocabulary leaves many words unknown. Like fastText, each word also carries its character n-grams of
"<word>" (boundaries marked), so a misspelt or unseen word still shares most of its n-grams with the right one.
The model embeds a word as its word vector plus the mean of its n-gram vectors.

This module fits the vocabularies (pure Python, runs in the preprocessing container) and saves them as
`encoder.json`. `encode` is the reference implementation of the id mapping; the training job builds the same
mapping as TensorFlow ops from the same JSON so the exported SavedModel can take raw strings.

Ids: 0 is padding, 1 is an unknown word; known words and n-grams start at 2. Unknown n-grams are dropped
(they carry nothing), then each word keeps at most `max_ngrams_per_word` n-grams, shortest n first.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from steps.hsml.cli_errors import UsageError
from steps.hsml.text import NORMALIZER_VERSION, tokenize

PAD_ID = 0
UNKNOWN_ID = 1
FIRST_ID = 2
ENCODER_FORMAT = "hsml.word_char_ngram/1"


@dataclass
class TextEncoder:
    max_words: int = 48
    # 2-4-grams: on the bundled data a LinearSVC on words + these n-grams scores 46.0 % HS6 on validation and 38.8 %
    # on test_fpo, 2-5-grams 45.6 / 38.1 %, 3-5-grams 45.6 / 36.8 % (`python bench/data_prep/ngram_ranges.py`);
    # 40 slots hold every 2-4-gram of a 13-letter word.
    ngram_min: int = 2
    ngram_max: int = 4
    max_ngrams_per_word: int = 40
    word_vocab: list[str] = field(default_factory=list)
    ngram_vocab: list[str] = field(default_factory=list)
    fitted_rows: int = 0

    @classmethod
    def fit(
        cls,
        normalized_texts: Iterable[str],
        *,
        min_word_count: int = 1,
        min_ngram_count: int = 2,
        max_word_vocab: int = 50_000,
        max_ngram_vocab: int = 100_000,
        **config,
    ) -> "TextEncoder":
        """Fit on the training split only (fitting on test text would leak its vocabulary)."""
        encoder = cls(**config)
        word_counts: Counter[str] = Counter()
        ngram_counts: Counter[str] = Counter()
        rows = 0
        for text in normalized_texts:
            rows += 1
            word_counts.update(tokenize(text)[: encoder.max_words])
        for word, count in word_counts.items():  # per distinct word, weighted: same counts, far fewer calls
            for ngram in encoder.char_ngrams(word):
                ngram_counts[ngram] += count
        encoder.word_vocab = _most_common(word_counts, min_word_count, max_word_vocab)
        encoder.ngram_vocab = _most_common(ngram_counts, min_ngram_count, max_ngram_vocab)
        encoder.fitted_rows = rows
        return encoder

    def char_ngrams(self, word: str) -> list[str]:
        marked = f"<{word}>"
        return [marked[i : i + n] for n in range(self.ngram_min, self.ngram_max + 1) for i in range(len(marked) - n + 1)]

    @property
    def word_vocab_size(self) -> int:
        """Rows of the word embedding table, padding and unknown included."""
        return len(self.word_vocab) + FIRST_ID

    @property
    def ngram_vocab_size(self) -> int:
        return len(self.ngram_vocab) + FIRST_ID

    def encode(self, normalized_text: str) -> tuple[list[int], list[list[int]]]:
        """Reference mapping of one normalised text to (word ids [max_words], n-gram ids [max_words][max_ngrams_per_word])."""
        word_index, ngram_index = self._indexes()
        words = tokenize(normalized_text)[: self.max_words]
        word_ids = [word_index.get(word, UNKNOWN_ID) for word in words]
        ngram_ids = []
        for word in words:
            known = [ngram_index[g] for g in self.char_ngrams(word) if g in ngram_index]
            known = known[: self.max_ngrams_per_word]
            ngram_ids.append(known + [PAD_ID] * (self.max_ngrams_per_word - len(known)))
        padding = self.max_words - len(words)
        word_ids += [PAD_ID] * padding
        ngram_ids += [[PAD_ID] * self.max_ngrams_per_word for _ in range(padding)]
        return word_ids, ngram_ids

    def _indexes(self) -> tuple[dict[str, int], dict[str, int]]:
        if getattr(self, "_cached_indexes", None) is None:
            self._cached_indexes = (
                {w: i + FIRST_ID for i, w in enumerate(self.word_vocab)},
                {g: i + FIRST_ID for i, g in enumerate(self.ngram_vocab)},
            )
        return self._cached_indexes

    def to_dict(self) -> dict:
        config = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        return {"format": ENCODER_FORMAT, "normalizer_version": NORMALIZER_VERSION, **config}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TextEncoder":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != ENCODER_FORMAT:
            raise UsageError(f"{path}: not an encoder artifact of format {ENCODER_FORMAT} (got {data.get('format')!r})")
        if data.get("normalizer_version") != NORMALIZER_VERSION:
            raise UsageError(
                f"{path}: fitted with text normaliser v{data.get('normalizer_version')}, this code has "
                f"v{NORMALIZER_VERSION}; re-run data preparation"
            )
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)


def _most_common(counts: Counter[str], min_count: int, limit: int) -> list[str]:
    # Ties broken alphabetically so the same data always gives the same vocabulary (and the same ids).
    ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0]))
    return [token for token, _ in ranked[:limit]]
