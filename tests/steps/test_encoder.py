"""The word + character n-gram encoder: fit, ids, JSON round trip."""
import json

import pytest

from steps.hsml.cli_errors import UsageError
from steps.hsml.encoder import FIRST_ID, PAD_ID, UNKNOWN_ID, TextEncoder


@pytest.fixture
def encoder():
    return TextEncoder.fit(["cotton t shirt", "cotton socks", "wool socks"], max_words=4, max_ngrams_per_word=6, ngram_min=3, ngram_max=5,
                           min_ngram_count=2)


def test_vocabulary_ranked_by_count_then_alphabet(encoder):
    assert encoder.word_vocab == ["cotton", "socks", "shirt", "t", "wool"]
    assert encoder.fitted_rows == 3
    assert encoder.word_vocab_size == 5 + FIRST_ID
    assert "<co" in encoder.ngram_vocab and "<sh" not in encoder.ngram_vocab  # "<sh" seen once only


def test_char_ngrams_mark_word_boundaries(encoder):
    assert encoder.char_ngrams("tea")[:3] == ["<te", "tea", "ea>"]
    assert "<tea>" in encoder.char_ngrams("tea")


def test_encode_pads_and_marks_unknown_words(encoder):
    word_ids, ngram_ids = encoder.encode("cotton jumper")
    assert word_ids == [FIRST_ID, UNKNOWN_ID, PAD_ID, PAD_ID]
    assert len(ngram_ids) == 4 and all(len(ids) == 6 for ids in ngram_ids)
    assert ngram_ids[0][0] >= FIRST_ID and ngram_ids[2] == [PAD_ID] * 6
    # A misspelt word shares n-grams with the real one.
    assert set(encoder.encode("coton")[1][0]) - {PAD_ID}


def test_long_texts_are_cut_at_max_words(encoder):
    word_ids, _ = encoder.encode("cotton " * 10)
    assert word_ids == [FIRST_ID] * 4


def test_fit_is_deterministic():
    texts = ["b a", "a c", "c b"]
    assert TextEncoder.fit(texts).to_dict() == TextEncoder.fit(list(reversed(texts))).to_dict()


def test_save_load_round_trip(encoder, tmp_path):
    path = encoder.save(tmp_path / "nested" / "encoder.json")
    loaded = TextEncoder.load(path)
    assert loaded.to_dict() == encoder.to_dict()
    assert loaded.encode("wool t shirt") == encoder.encode("wool t shirt")


def test_load_refuses_other_formats_and_normaliser_versions(encoder, tmp_path):
    data = encoder.to_dict()
    (tmp_path / "other.json").write_text(json.dumps({**data, "format": "something/2"}))
    with pytest.raises(UsageError, match="format"):
        TextEncoder.load(tmp_path / "other.json")
    (tmp_path / "old.json").write_text(json.dumps({**data, "normalizer_version": "0"}))
    with pytest.raises(UsageError, match="re-run data preparation"):
        TextEncoder.load(tmp_path / "old.json")
