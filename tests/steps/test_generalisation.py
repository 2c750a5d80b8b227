"""The long-text probes, the predicted-class concentration and the source filter."""
from __future__ import annotations

import pandas as pd
import pytest

from pipelines.settings import REPO_ROOT
from steps.hsml.generalisation import (FPO_SOURCE, HMRC_SEARCH_SOURCE, MARKETING_WORDS, commonest_share,
                                       long_text_probe, source_rows)
from steps.hsml.text import normalize_description

DESCRIPTIONS = ["kitchen sinks, stainless steel", "lipstick", "face cream 50ml", "mens cotton t-shirt", "tea bags"]
CODES = ["732410", "330410", "330499", "610910", "090230"]


def test_pad_keeps_the_description_and_its_code_and_makes_it_three_to_four_times_longer():
    texts, codes = long_text_probe(DESCRIPTIONS, CODES, kind="pad", seed=3)
    assert codes == CODES
    longest_filler = max(len(word) for word in MARKETING_WORDS)
    for original, padded in zip(DESCRIPTIONS, texts):
        before, found, after = padded.partition(original)
        assert found == original and before.strip() and after.strip()  # filler on both sides
        assert 3 * len(original) <= len(padded) <= 4 * len(original) + longest_filler + 1


def test_pad_uses_only_filler_words():
    filler_tokens = {token for word in MARKETING_WORDS for token in word.split()}
    texts, _ = long_text_probe(DESCRIPTIONS, CODES, kind="pad", seed=0)
    for original, padded in zip(DESCRIPTIONS, texts):
        before, _, after = padded.partition(original)
        assert set((before + " " + after).split()) <= filler_tokens


def test_probes_are_deterministic_given_the_seed_and_change_with_it():
    for kind in ("pad", "concat"):
        first = long_text_probe(DESCRIPTIONS * 4, CODES * 4, kind=kind, seed=7)
        assert long_text_probe(DESCRIPTIONS * 4, CODES * 4, kind=kind, seed=7) == first
        assert long_text_probe(DESCRIPTIONS * 4, CODES * 4, kind=kind, seed=8)[0] != first[0]


def test_concat_appends_another_description_of_the_same_code():
    descriptions = ["lipstick", "lip gloss", "matte lip colour", "tea bags"]
    codes = ["330410", "330410", "330410", "090230"]
    texts, out_codes = long_text_probe(descriptions, codes, kind="concat", seed=1)
    assert out_codes == codes
    same_code = {"330410": descriptions[:3], "090230": descriptions[3:]}
    for original, code, probe in zip(descriptions, codes, texts):
        assert probe.startswith(original + " ")
        rest = probe[len(original) + 1:]
        others = [d for d in same_code[code] if d != original] or [original]  # a lone text is repeated
        assert any(f" {other} " in f" {rest} " for other in others), probe
        assert not any(f" {d} " in f" {rest} " for d in descriptions if d not in same_code[code])


def test_a_bad_kind_mismatched_or_empty_input_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        long_text_probe(DESCRIPTIONS, CODES, kind="shuffle")
    with pytest.raises(ValueError, match="5 descriptions but 4 codes"):
        long_text_probe(DESCRIPTIONS, CODES[:4])
    with pytest.raises(ValueError, match="description 1 is empty"):
        long_text_probe(["tea", " "], ["090230", "090230"])


def test_commonest_share_names_the_code_and_its_share_ties_going_to_the_code_that_sorts_first():
    assert commonest_share(["330499", "330499", "610910", "090230"]) == ("330499", 0.5)
    assert commonest_share(["610910", "090230"]) == ("090230", 0.5)
    with pytest.raises(ValueError, match="no codes"):
        commonest_share([])


def test_source_rows_keeps_the_rows_of_the_named_sources():
    frame = pd.DataFrame({"description": ["a", "b", "c"], "hs_code": ["010121"] * 3,
                          "source": [FPO_SOURCE, HMRC_SEARCH_SOURCE, "wco_hs2022_subheading"]})
    assert list(source_rows(frame, FPO_SOURCE)["description"]) == ["a"]
    assert list(source_rows(frame, [FPO_SOURCE, HMRC_SEARCH_SOURCE]).index) == [0, 1]
    with pytest.raises(ValueError, match="no 'source' column"):
        source_rows(frame.drop(columns="source"), FPO_SOURCE)


def test_the_bundled_data_has_both_real_sources():
    frame = pd.read_csv(REPO_ROOT / "data" / "hs_descriptions_full.csv.gz", dtype=str, keep_default_na=False)
    assert len(source_rows(frame, FPO_SOURCE)) == 2309
    assert len(source_rows(frame, HMRC_SEARCH_SOURCE)) == 4003


# Filler tokens that also occur in the official HS 2022 texts, each reviewed: none names a product there
# ("hot" is hot-rolled, "sale" is "put up for retail sale", "new" is new tyres: the filler does not make a product
# any of these). A new filler word that occurs in the nomenclature fails this test until it is reviewed and added.
REVIEWED_NOMENCLATURE_TOKENS = {
    "%", "0", "assorted", "colour", "colours", "delivery", "free", "have", "high", "hot", "in", "low", "multi",
    "must", "new", "no", "one", "original", "sale", "size", "special", "stock", "top",
}


def test_filler_words_that_occur_in_the_nomenclature_are_the_reviewed_ones():
    nomenclature = pd.read_csv(REPO_ROOT / "data" / "hs2022_nomenclature.csv", dtype=str)
    official_tokens = {token for text in nomenclature["description"] for token in normalize_description(text).split()}
    filler_tokens = {token for word in MARKETING_WORDS for token in normalize_description(word).split()}
    assert filler_tokens & official_tokens <= REVIEWED_NOMENCLATURE_TOKENS
    assert len(set(MARKETING_WORDS)) == len(MARKETING_WORDS)
