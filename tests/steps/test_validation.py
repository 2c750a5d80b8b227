import pytest

from steps.hsml.descriptions import MAX_DESCRIPTION_CHARS, check_description, length_problem
from steps.hsml.validation import description_problem, split_problem


@pytest.mark.parametrize("description, reason", [
    ("", "empty_description"),
    ("   ", "empty_description"),
    ("x" * (MAX_DESCRIPTION_CHARS + 1), "description_too_long"),
    ("£5", "non_text_description"),
    ("12.50", "non_text_description"),
    ("---", "non_text_description"),
    ("6109.10", "code_only_description"),
    ("610910", "code_only_description"),
    ("HS code: 6109.10.00", "code_only_description"),
])
def test_unusable_descriptions(description, reason):
    assert description_problem(description)[0] == reason


@pytest.mark.parametrize("description", [
    "mens cotton t-shirt", "x" * MAX_DESCRIPTION_CHARS, "2 x 200ml shampoo", "ボールペン", "футболка",
    "t-shirt hs 610910",  # a code inside real text is still a description
])
def test_usable_descriptions(description):
    assert description_problem(description) is None


def test_split_values():
    assert split_problem("test_fpo") is None and split_problem("") is None and split_problem("Train") is None
    reason, detail = split_problem("holdout")
    assert reason == "unknown_split" and "train_nomenclature" in detail


def test_one_length_limit_and_one_row_check_for_preparation_prediction_and_serving():
    too_long = "x" * 1_000_000
    assert length_problem("x" * MAX_DESCRIPTION_CHARS) is None
    assert "1,000,000 characters, over the limit of 2,500" in length_problem(too_long)
    assert description_problem(too_long)[1] == length_problem(too_long) == check_description(too_long)[1]
    assert check_description("Men&#39;s T-Shirt") == ("mens t shirt", None)
    assert check_description(None)[1] == "description is missing"
    assert check_description(float("nan"))[1] == "description is missing"
    assert check_description(12)[1] == "description must be text, got int"
    assert "empty after normalisation" in check_description(" !!! ")[1]
