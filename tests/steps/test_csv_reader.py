import gzip

import pytest

from steps.hsml.csv_reader import InputFileError, read_labelled_csv


def write(tmp_path, data: bytes, name="input.csv"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_aliases_any_case_and_a_bom(tmp_path):
    path = write(tmp_path, "\ufeffGoods Description,COMMODITY CODE\nboots,640399\n".encode("utf-8"))
    result = read_labelled_csv(path)
    assert result.columns == {"description": 0, "hs_code": 1}
    assert [(r.line, r.fields) for r in result.records] == [(2, {"description": "boots", "hs_code": "640399"})]


def test_wrong_column_names_name_the_expected_and_the_found_columns(tmp_path):
    path = write(tmp_path, b"product_name,category\nboots,shoes\n")
    with pytest.raises(InputFileError) as error:
        read_labelled_csv(path)
    message = str(error.value)
    assert "description,hs_code" in message and "product_name" in message and "category" in message


def test_mixed_encodings_are_decoded_per_line_and_counted(tmp_path):
    data = b"description,hs_code\n" + "crème brûlée,190190\n".encode("cp1252") + "café,090121\n".encode("utf-8")
    result = read_labelled_csv(write(tmp_path, data))
    assert [r.fields["description"] for r in result.records] == ["crème brûlée", "café"]
    assert result.encoding_fallback_lines == 1


def test_undecodable_and_nul_lines_become_rejected_records(tmp_path):
    data = b"description,hs_code\nbad \x81 bytes,610910\nnul\x00here,610910\nfine,610910\n"
    result = read_labelled_csv(write(tmp_path, data))
    assert [(r.line, r.reason) for r in result.records] == [(2, "undecodable"), (3, "undecodable"), (4, None)]


def test_blank_ragged_and_unbalanced_lines(tmp_path):
    data = b'description,hs_code\n\na,b,610910\n"open quote,610910\nok,610910\n'
    result = read_labelled_csv(write(tmp_path, data))
    assert [(r.line, r.reason) for r in result.records] == [
        (2, "blank_line"), (3, "wrong_field_count"), (4, "unbalanced_quotes"), (5, None)]
    assert "quote the field" in result.records[1].detail


def test_a_quoted_field_may_span_lines_and_keeps_the_line_it_starts_on(tmp_path):
    data = b'description,hs_code\n"two\nlines",610910\nnext,610990\n'
    result = read_labelled_csv(write(tmp_path, data))
    assert [(r.line, r.fields["description"]) for r in result.records] == [(2, "two\nlines"), (4, "next")]


def test_semicolons_crlf_gzip_and_extra_columns(tmp_path):
    data = gzip.compress(b"id;Description;HS Code;split\r\n1;boots;640399;train\r\n")
    result = read_labelled_csv(write(tmp_path, data, "input.csv.gz"))
    assert result.delimiter == ";" and result.ignored_columns == ["id"]
    assert result.records[0].fields == {"description": "boots", "hs_code": "640399", "split": "train"}


def test_utf16_from_excel_unicode_text(tmp_path):
    data = "description\ths_code\r\nboots\t640399\r\n".encode("utf-16")
    result = read_labelled_csv(write(tmp_path, data))
    assert result.utf16 and result.records[0].fields == {"description": "boots", "hs_code": "640399"}


def test_a_broken_gzip_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="gzip"):
        read_labelled_csv(write(tmp_path, b"\x1f\x8bnot really gzip", "input.csv.gz"))


def test_an_empty_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="empty"):
        read_labelled_csv(write(tmp_path, b""))


def test_every_column_is_kept_as_read_under_a_unique_name(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_bytes("\ufeffHS Code;Goods Description;notes;notes;;text\n"
                     " 6109.10 ;Men's T-Shirt ;a;b;c;d\nonly;two\n".encode("utf-8"))
    result = read_labelled_csv(path)
    assert result.column_names == ["hs_code", "description", "notes", "notes 2", "column 5", "text"]
    good, ragged = result.records
    assert good.as_read == {"hs_code": " 6109.10 ", "description": "Men's T-Shirt ", "notes": "a", "notes 2": "b",
                            "column 5": "c", "text": "d"}  # values as in the file, not stripped
    assert ragged.reason == "wrong_field_count" and ragged.as_read == {} and ragged.raw == "only;two"
