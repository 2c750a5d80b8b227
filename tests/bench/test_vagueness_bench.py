"""bench/vagueness.py: the page from hand-made results, and the caught/listed/missed reading of one example."""
from __future__ import annotations

from bench import vagueness
from steps.hsml.vagueness import VagueDetector


def _result(copies: int, seed: int, caught: str) -> dict:
    return {"long_negative_copies": copies, "seed": seed, "threshold": 0.98, "fit_seconds": 1.0,
            "recall_held_out": 0.123, "held_out_vague_terms": 838, "false_refusal_rate": 0.0,
            "false_refusal_rate_by_source": {"uk_fpo_extra_references": 0.0, "uk_hmrc_search_references": 0.0},
            "false_refusal_rate_out_of_fold_by_source": {"uk_fpo_extra_references": 0.0099,
                                                         "uk_hmrc_search_references": 0.0051},
            "false_refusal_rate_padded": 0.0045, "listed_terms": 2890, "test_false_refusal_rate": 0.014,
            "examples_caught": dict.fromkeys(vagueness.EXAMPLES, caught)}


def test_the_page_has_one_row_per_fit_with_out_of_fold_and_held_out_rates():
    page = vagueness.render([_result(0, 0, "missed"), _result(3, 1, "listed")], {"validation": 443, "fpo_validation": 153})
    rows = [line for line in page.splitlines() if line.startswith("| out of fold ")]
    assert rows[0].startswith("| out of fold | 0 | 0 | 0.980 | 12.3% | 1.0% | 0.5% | 0.0% |") and rows[0].endswith("| missed |")
    assert rows[1].endswith("| listed | listed | listed |")
    assert "2,890 training-fifth terms" in page and "one row is 0.7% there" in page


def test_an_example_is_caught_by_the_regression_or_by_the_list_or_missed():
    model = VagueDetector({"w:gift": (1.0, 8.0)}, -2.0, 0.9, {})
    with_list = VagueDetector(model.weights, model.intercept, model.threshold, {}, frozenset({"sample"}))
    assert vagueness._caught(with_list, model, "gift") == "caught"
    assert vagueness._caught(with_list, model, "sample") == "listed"
    assert vagueness._caught(with_list, model, "steel sink") == "missed"
