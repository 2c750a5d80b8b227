"""The TF Serving hook's request parsing for application/jsonlines (stdlib only, as in the container)."""
from __future__ import annotations

import pytest

from steps.hsml.serving.inference import parse_descriptions


def test_jsonlines_reads_one_json_value_a_line_in_order():
    body = '"steel screws"\n\n{"instances": ["wooden chair", 7]}\n{"inputs": "cotton shirt"}\n["a", "b"]\n'
    assert parse_descriptions(body.encode(), "application/jsonlines") == [
        "steel screws", "wooden chair", 7, "cotton shirt", "a", "b"]
    assert parse_descriptions('"x"\r\n"y"', "application/jsonlines; charset=utf-8") == ["x", "y"]


@pytest.mark.parametrize("body, message", [
    ('"ok"\n{broken\n', "application/jsonlines line 2"),
    ('"ok"\n{"rows": ["a"]}\n', 'line 2: JSON body must hold "instances"'),
])
def test_a_bad_jsonlines_line_is_named_in_the_error(body, message):
    with pytest.raises(ValueError, match=message):
        parse_descriptions(body, "application/jsonlines")


def test_a_line_holding_a_number_or_null_is_a_row_of_its_own_for_the_per_row_check():
    assert parse_descriptions('"ok"\n42\nnull\n', "application/jsonlines") == ["ok", 42, None]


def test_an_empty_jsonlines_body_has_no_rows():
    assert parse_descriptions(b"\n\n", "application/jsonlines") == []
