import pytest

from steps.hsml.validation import MAX_DESCRIPTION_CHARS, description_problem, split_problem


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
