"""The answer that abstains to the level it is sure of, and the adaptive answer set (steps/hsml/hierarchy.py)."""
from __future__ import annotations

import pytest

from steps.hsml.hierarchy import VAGUE_REASON, answer, answer_set, thresholds_from_metrics

LEVELS = {
    "hs6": [("610910", 0.45), ("610990", 0.40), ("620520", 0.10), ("420212", 0.05)],
    "hs4": [("6109", 0.85), ("6205", 0.10), ("4202", 0.05)],
    "hs2": [("61", 0.85), ("62", 0.10), ("42", 0.05)],
}


def test_the_answer_is_the_deepest_level_that_clears_its_threshold():
    sure_hs6 = answer(LEVELS, {"hs6": 0.4, "hs4": 0.8, "hs2": 0.8})["answer"]
    assert (sure_hs6["level"], sure_hs6["code"], sure_hs6["probability"]) == ("hs6", "610910", 0.45)
    heading = answer(LEVELS, {"hs6": 0.9, "hs4": 0.8, "hs2": 0.8})["answer"]
    assert (heading["level"], heading["code"]) == ("hs4", "6109")
    assert "HS6 610910 at 0.45 < 0.90" in heading["reason"] and "heading 6109 at 0.85 >= 0.80" in heading["reason"]
    chapter = answer(LEVELS, {"hs6": 0.9, "hs4": 0.9, "hs2": 0.8})["answer"]
    assert (chapter["level"], chapter["code"]) == ("hs2", "61")
    nothing = answer(LEVELS, {"hs6": 0.9, "hs4": 0.9, "hs2": 0.9})["answer"]
    assert (nothing["level"], nothing["code"], nothing["probability"]) == ("none", None, None)
    assert nothing["reason"].startswith("no level is sure")


def test_a_missing_or_never_reached_threshold_skips_its_level():
    assert answer(LEVELS, {})["answer"]["level"] == "none"
    result = answer(LEVELS, {"hs6": None, "hs4": 1.01, "hs2": 0.5})["answer"]
    assert result["level"] == "hs2"
    assert "HS6 has no threshold" in result["reason"] and "HS4 never reached 95 % precision" in result["reason"]


def test_a_vague_row_answers_none_too_vague_with_an_empty_set():
    result = answer(LEVELS, {"hs6": 0.1, "hs4": 0.1, "hs2": 0.1}, vague=True)
    assert result["answer"] == {"level": "none", "code": None, "probability": None, "reason": VAGUE_REASON}
    assert result["answer_set"] == [] and result["answer_set_probability"] == 0.0


def test_the_answer_set_lists_codes_until_the_set_level_and_is_capped_by_the_codes_given():
    assert answer_set(LEVELS["hs6"], 0.9) == (["610910", "610990", "620520"], pytest.approx(0.95))
    assert answer_set(LEVELS["hs6"], 0.4)[0] == ["610910"]
    assert answer_set([("610910", 0.97), ("610990", 0.02)])[0] == ["610910"]
    codes, covered = answer_set(LEVELS["hs6"][:2], 0.9)  # k = 2 cuts it short
    assert codes == ["610910", "610990"] and covered == pytest.approx(0.85)
    with pytest.raises(ValueError, match="level"):
        answer_set(LEVELS["hs6"], 0)


def test_thresholds_come_from_registry_metrics_or_evaluation_entries():
    assert thresholds_from_metrics({"accept_threshold": "0.93", "accept_threshold_hs4": 0.8}) == {
        "hs6": 0.93, "hs4": 0.8, "hs2": None}
    assert thresholds_from_metrics({"accept_threshold_hs2": {"value": 0.7, "standard_deviation": "NaN"}})["hs2"] == 0.7
    assert thresholds_from_metrics({"accept_threshold": "junk"})["hs6"] is None
