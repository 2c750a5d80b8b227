"""Filler copies: real rows again inside vague descriptions, labels unchanged; the terms come from preparation."""
import random

import pandas as pd

from steps.hsml.filler import filler_copies, pad_with_filler, read_filler_terms, write_filler_terms
from steps.hsml.hyperparameters import resolve_hyperparameters
from steps.hsml.training import with_filler_copies
from steps.hsml.vagueness import is_held_out

TERMS = ["black one size", "gift", "10 00 boys"]


def _train():
    return pd.DataFrame({"description": ["Cotton T-shirt", "steel sink", "steel sink", "T-shirts of cotton"],
                         "text": ["cotton t-shirt", "steel sink", "steel sink", "t-shirts of cotton"],
                         "hs_code": ["610910", "732410", "732410", "610910"],
                         "source": ["uk_hmrc_search_references", "uk_fpo_extra_references",
                                    "uk_fpo_extra_references", "wco_hs2022_subheading"],
                         "origin": ["a:2", "a:3", "a:3", "a:4"], "upsampled": ["0", "0", "1", "0"]})


def test_the_text_is_kept_whole_between_filler_terms():
    rng = random.Random(0)
    for _ in range(50):
        padded = pad_with_filler("steel sink", TERMS, rng)
        rest = padded.replace("steel sink", "", 1)
        for term in sorted(TERMS, key=len, reverse=True):
            rest = rest.replace(term, "")
        assert rest.strip() == "" and padded != "steel sink"


def test_one_copy_per_real_row_with_its_label_and_source_and_deterministic():
    train = _train()
    hp = resolve_hyperparameters({"model_type": "dnn", "filler_copies": 1})
    logged = []
    grown = with_filler_copies(train, TERMS, hp, logged.append)
    copies = grown.iloc[len(train):]
    # the up-sampled copy and the official row get none
    assert list(copies["hs_code"]) == ["610910", "732410"] and list(copies["upsampled"]) == ["0", "0"]
    assert list(copies["source"]) == ["uk_hmrc_search_references", "uk_fpo_extra_references"]
    assert all(original in text for original, text in zip(["cotton t-shirt", "steel sink"], copies["text"]))
    assert copies["origin"].tolist() == ["filler copy of a:2", "filler copy of a:3"]
    assert "filler copies: 2 real rows again" in logged[0]
    again = filler_copies(train, train["text"].tolist(), [True, True, False, False], TERMS, seed=hp["seed"])
    assert again["text"].tolist() == copies["text"].tolist()


def test_off_or_without_terms_the_rows_are_unchanged():
    train = _train()
    assert with_filler_copies(train, TERMS, resolve_hyperparameters({"filler_copies": 0}), print) is train
    logged = []
    assert with_filler_copies(train, None, resolve_hyperparameters({"filler_copies": 1}), logged.append) is train
    assert "no filler_terms.txt" in logged[0]


def test_preparation_writes_the_detectors_training_terms_only(tmp_path):
    from pipelines.settings import BUNDLED_DATASET, DATA_DIR
    from steps.hsml.prepared import read_split
    from steps.hsml.preparation import PrepareOptions, prepare

    prepare([BUNDLED_DATASET], DATA_DIR, tmp_path, PrepareOptions(upsample=False))
    terms = read_filler_terms(tmp_path)
    assert len(terms) > 2500 and not any(is_held_out(t) for t in terms)
    labelled = set().union(*(set(read_split(tmp_path / f"{name}.csv")["text"]) for name in ("train", "validation", "test")))
    assert not set(terms) & labelled  # "birdseed" is in HMRC's vague list and is a labelled row: not filler
    (tmp_path / "other").mkdir()
    write_filler_terms(["a", "b"], tmp_path / "other")
    assert read_filler_terms(tmp_path / "other") == ["a", "b"] and read_filler_terms(tmp_path / "none") is None
