import pytest

from pipelines.settings import HS2022_NOMENCLATURE
from steps.hsml.cli_errors import UsageError
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes, load_hs_descriptions, load_hs_levels


@pytest.fixture(scope="module")
def hs6_codes() -> dict[str, str]:
    return load_hs6_codes(HS2022_NOMENCLATURE)


@pytest.fixture(scope="module")
def code_normalizer(hs6_codes) -> HSCodeNormalizer:
    return HSCodeNormalizer(hs6_codes)


def test_the_bundled_list_has_every_hs2022_subheading(hs6_codes):
    assert len(hs6_codes) == 5613
    assert all(len(code) == 6 and code.isdigit() for code in hs6_codes)
    assert "010121" in hs6_codes


@pytest.mark.parametrize("raw", ["610910", "6109.10", "6109 10", "6109-10", " 6109.10 ", "610910.0", "HS 6109.10"])
def test_spellings_of_a_six_digit_code(code_normalizer, raw):
    result = code_normalizer.normalize(raw)
    assert (result.code, result.truncated, result.zero_padded) == ("610910", False, False)


@pytest.mark.parametrize("raw", ["61091000", "6109100010", "6109.10.00.10", "6109.10.0010"])
def test_national_8_and_10_digit_codes_are_truncated_and_flagged(code_normalizer, raw):
    result = code_normalizer.normalize(raw)
    assert (result.code, result.truncated) == ("610910", True)


@pytest.mark.parametrize("raw, expected", [("10121", "010121"), ("1012100", "010121"), ("101210000", "010121")])
def test_a_leading_zero_lost_in_a_spreadsheet_is_restored(code_normalizer, raw, expected):
    result = code_normalizer.normalize(raw)
    assert (result.code, result.zero_padded) == (expected, True)


def test_an_odd_length_code_that_is_not_valid_with_a_zero_is_rejected(code_normalizer):
    result = code_normalizer.normalize("61091")  # 061091 does not exist: maybe a digit missing at the end
    assert result.code is None and result.reason == "code_bad_length"


@pytest.mark.parametrize("raw, reason", [
    ("", "empty_code"),
    ("8516", "code_is_heading"),
    ("123", "code_bad_length"),
    ("12345678901", "code_bad_length"),
    ("61O910", "code_not_numeric"),
    ("6.1091E+05", "code_scientific_notation"),
    ("610999", "code_unknown"),
])
def test_rejected_codes_say_why(code_normalizer, raw, reason):
    result = code_normalizer.normalize(raw)
    assert result.code is None and result.reason == reason and result.detail


def test_a_typo_gets_a_suggestion(code_normalizer):
    result = code_normalizer.normalize("610901")  # swapped digits of 610910
    assert result.reason == "code_unknown"
    assert "did you mean" in result.detail and "610910" in result.detail


def test_a_heading_suggests_its_subheadings(code_normalizer):
    assert code_normalizer.suggestions("6109") == ["610910", "610990"]


def test_missing_reference_says_where_to_point(tmp_path):
    with pytest.raises(UsageError, match="--reference-dir"):
        load_hs6_codes(tmp_path)


def test_all_levels_come_from_one_read_and_match_each_level_on_its_own():
    by_level = load_hs_levels(HS2022_NOMENCLATURE)
    assert {level: len(codes) for level, codes in by_level.items()} == {"2": 97, "4": 1229, "6": 5613}
    for level in ("2", "4", "6"):
        assert by_level[level] == load_hs_descriptions(HS2022_NOMENCLATURE, level)
    assert by_level["4"]["6109"].lower().startswith("t-shirts")


def test_a_level_missing_from_the_file_is_named(tmp_path):
    path = tmp_path / "hs2022_nomenclature.csv"
    path.write_text("section,hscode,description,parent,level\nI,01,Animals; live,TOTAL,2\n", encoding="utf-8")
    assert load_hs_levels(path, ("2",)) == {"2": {"01": "Animals; live"}}
    with pytest.raises(UsageError, match="no level-4 rows"):
        load_hs_levels(tmp_path)
