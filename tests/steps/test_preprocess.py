"""Data preparation end to end: a corrupted input file, the row accounting, the quarantine and feeding it back,
the outputs, the job script and the CLI."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main as hscode
from pipelines.settings import BUNDLED_DATASET, DATA_DIR
from steps.hsml.encoder import TextEncoder
from steps.hsml.cli_errors import UsageError
from steps.hsml.preparation import PrepareOptions, prepare
from steps.hsml.prepared import read_split

PREPROCESS_SCRIPT = Path(__file__).resolve().parents[2] / "steps" / "preprocess.py"

# (bytes of one line, expected rejection reason or None when the row must survive)
CORRUPTED_LINES = [
    ("\ufeffGoods Description,Commodity Code\r\n".encode("utf-8"), "header"),
    (b"mens cotton t-shirt,6109.10\r\n", None),  # line 2: dotted code
    (b"horses live pure-bred,10121\r\n", None),  # line 3: Excel lost the leading zero
    (b"\r\n", "blank_line"),  # line 4
    (b"ladies cotton blouse,6206300010\r\n", None),  # line 5: 10-digit UK code
    ("crème brûlée mix,190190\r\n".encode("cp1252"), None),  # line 6: a Windows-1252 line in a UTF-8 file
    (b"widget,610999\r\n", "code_unknown"),  # line 7
    (b"gadget,61.09.1x\r\n", "code_not_numeric"),  # line 8
    (b"sweater,wool,611011\r\n", "wrong_field_count"),  # line 9: ragged (unquoted comma)
    (b'"' + b"x" * 1_000_000 + b'",610910\r\n', "description_too_long"),  # line 10: a 1 MB description
    (b",610910\r\n", "empty_description"),  # line 11
    ("£5,490700\r\n".encode("utf-8"), "non_text_description"),  # line 12
    (b"6109.10,610910\r\n", "code_only_description"),  # line 13
    (b"bad \x81\x8d bytes,610910\r\n", "undecodable"),  # line 14
    (b'"sweater, wool",611011\r\n', None),  # line 15: quoted comma
    (b"jeans cotton,6203.42\r\n", None),  # line 16
    (b"Men's Cotton T-Shirt,610910\r\n", "duplicate"),  # line 17: same normalised text and code as line 2
    (b'"unterminated quote,610910\r\n', "unbalanced_quotes"),  # line 18
    (b"electric kettle,8516\r\n", "code_is_heading"),  # line 19
]


def _write_corrupted_csv(folder):
    path = folder / "inputs" / "corrupted.csv"
    path.parent.mkdir()
    path.write_bytes(b"".join(line for line, _ in CORRUPTED_LINES))
    return path


@pytest.fixture
def corrupted_csv(tmp_path):
    return _write_corrupted_csv(tmp_path)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The corrupted file prepared once for the module (about 2 s); the tests only read its report and outputs."""
    folder = tmp_path_factory.mktemp("prepared")
    out = folder / "out"
    report = prepare([_write_corrupted_csv(folder)], DATA_DIR, out, PrepareOptions(seed=1))
    return report, out


def _rejected(out):
    limit = csv.field_size_limit(2_000_000)  # rejected.csv keeps a 1 MB description whole
    try:
        with (out / "rejected.csv").open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    finally:
        csv.field_size_limit(limit)


def test_good_rows_survive_and_bad_rows_are_reported_with_line_and_reason(prepared):
    report, out = prepared
    rejected = [(row["file"], int(row["line"]), row["reason"]) for row in _rejected(out)]
    expected = [("corrupted.csv", number, reason) for number, (_, reason) in enumerate(CORRUPTED_LINES, start=1)
                if reason not in (None, "header", "duplicate")]
    assert rejected == expected

    kept = read_split(out / "train.csv").query("upsampled == '0'")
    assert sorted(kept["description"]) == sorted([
        "mens cotton t-shirt", "horses live pure-bred", "ladies cotton blouse", "crème brûlée mix",
        "sweater, wool", "jeans cotton"])
    assert dict(zip(kept["description"], kept["hs_code"]))["horses live pure-bred"] == "010121"
    assert dict(zip(kept["description"], kept["origin"]))["crème brûlée mix"] == "corrupted.csv:6"


def test_every_row_is_accounted_for(prepared):
    report, _ = prepared
    assert report["rows_read"] == 18 == report["kept"] + report["rejected"] + report["duplicates"] + report["excluded"]
    assert (report["kept"], report["rejected"], report["duplicates"]) == (6, 11, 1)
    assert report["rejected_by_reason"]["blank_line"] == 1
    assert report["codes"] == {"truncated_to_6_digits": 1, "leading_zero_restored": 1}
    assert report["decoding"] == {"windows_1252_fallback_lines": 1, "undecodable_lines": 1}
    assert report["inputs"][0]["file"] == "corrupted.csv" and len(report["inputs"][0]["sha256"]) == 64


def test_rejected_rows_are_kept_whole_beside_their_reason(prepared):
    _, out = prepared
    rejected = {row["reason"]: row for row in _rejected(out)}
    too_long = rejected["description_too_long"]
    assert too_long["description"] == "x" * 1_000_000 and too_long["hs_code"] == "610910"
    assert "1,000,000 characters" in too_long["detail"] and too_long["raw_record"] == ""
    unknown = rejected["code_unknown"]
    assert (unknown["description"], unknown["hs_code"], unknown["file"], unknown["line"]) == \
        ("widget", "610999", "corrupted.csv", "7")
    assert rejected["code_not_numeric"]["hs_code"] == "61.09.1x"  # as in the file, not normalised
    # Rows that have no columns keep their text as read.
    ragged = rejected["wrong_field_count"]
    assert ragged["raw_record"] == "sweater,wool,611011" and ragged["description"] == ragged["hs_code"] == ""
    assert rejected["unbalanced_quotes"]["raw_record"] == '"unterminated quote,610910'
    assert rejected["undecodable"]["raw_record"] == "bad \\x81\\x8d bytes,610910"


def test_a_corrected_rejected_csv_fed_back_keeps_the_fixed_rows(prepared, tmp_path):
    _, out = prepared
    rows = _rejected(out)
    fixed = tmp_path / "fixed" / "rejected.csv"
    fixed.parent.mkdir()
    with fixed.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            if row["reason"] == "code_unknown":
                row["hs_code"] = "610990"  # the user's fix
            if row["reason"] == "wrong_field_count":
                row["description"], row["hs_code"] = "sweater, wool blend", "611011"  # rebuilt from raw_record
            writer.writerow(row)
    report = prepare([fixed], DATA_DIR, tmp_path / "again", PrepareOptions(seed=1, upsample=False))
    kept = read_split(tmp_path / "again" / "train.csv")
    assert set(kept["description"]) == {"widget", "sweater, wool blend"}
    assert dict(zip(kept["description"], kept["hs_code"]))["widget"] == "610990"
    # The rows left as they were are rejected again, still whole: those that had columns for the same reason,
    # those that had only a raw record (now in "input raw_record") as having no description yet.
    assert report["kept"] == 2 and report["rejected"] == len(rows) - 2
    left = [row for row in rows if row["reason"] not in ("code_unknown", "wrong_field_count")]
    again = _rejected(tmp_path / "again")
    assert [row["reason"] for row in again] == [
        "empty_description" if row["raw_record"] or row["reason"] == "blank_line" else row["reason"] for row in left]
    assert [row["input raw_record"] for row in again] == [row["raw_record"] for row in left]
    assert [row["input reason"] for row in again] == [row["reason"] for row in left]


def test_other_input_columns_travel_into_rejected_csv_under_their_own_names(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("Goods Description,HS Code,order id,reason\nwidget,610999,A-17,gift\n", encoding="utf-8")
    prepare([path], DATA_DIR, tmp_path / "out", PrepareOptions(upsample=False))
    (row,) = _rejected(tmp_path / "out")
    assert list(row) == ["file", "line", "reason", "detail", "description", "hs_code", "split", "source", "order id",
                         "input reason", "raw_record"]
    assert (row["description"], row["hs_code"], row["order id"], row["input reason"]) == \
        ("widget", "610999", "A-17", "gift")
    assert row["reason"] == "code_unknown"


def test_outputs_are_flat_and_readable(prepared):
    report, out = prepared
    names = {p.name for p in out.iterdir()}
    assert names == {"train.csv", "validation.csv", "test.csv", "rejected.csv", "encoder.json", "report.json",
                     "profile.json", "vagueness.json", "filler_terms.txt"}  # DATA_DIR holds hmrc_vague_terms.csv
    assert json.loads((out / "report.json").read_text()) == report
    assert report["vagueness"]["fitted"] and report["vagueness"]["held_out_vague_terms"] > 800
    encoder = TextEncoder.load(out / "encoder.json")
    assert "shirt" in encoder.word_vocab and encoder.fitted_rows == 6
    profile = json.loads((out / "profile.json").read_text())
    assert profile["rows"] == 6 and profile["description_chars"]["edges"][0] == 0


def test_same_input_same_data_hash(prepared, corrupted_csv, tmp_path):
    first, _ = prepared  # the same bytes, prepared with the same options by another call
    second = prepare([corrupted_csv], DATA_DIR, tmp_path / "b", PrepareOptions(seed=1))
    assert first["data_sha256"] == second["data_sha256"] and first["outputs"] == second["outputs"]


def _labelled(tmp_path, rows, name="labelled.csv"):
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "hs_code", "split"])
        writer.writerows(rows)
    return path


def test_splits_upsampling_and_nomenclature_option(tmp_path):
    rows = [(f"cotton t-shirt style {chr(97 + i)}", "610910", "train") for i in range(20)]
    rows += [("wool pullover", "611011", "train"), ("fpo pullover", "611011", "test_fpo"),
             ("T-shirts of cotton, knitted", "610910", "train_nomenclature"),
             ("fpo pullover", "611020", "train_nomenclature")]  # official text identical to a test text
    path = _labelled(tmp_path, rows)
    report = prepare([path], DATA_DIR, tmp_path / "out",
                     PrepareOptions(validation_fraction=0.2, upsample_floor=3, nomenclature="include"))
    train, validation, test = (read_split(tmp_path / "out" / f"{n}.csv") for n in ("train", "validation", "test"))
    assert list(test["description"]) == ["fpo pullover"]
    assert len(validation) == 4 and set(validation["hs_code"]) == {"610910"}
    assert "T-shirts of cotton, knitted" in set(train["description"])
    assert report["rejected_by_reason"] == {"text_in_evaluation_split": 1}
    assert not set(train["text"]) & set(validation["text"]) and not set(train["text"]) & set(test["text"])
    # 611011 has one training row: two up-sampled copies, only in train.
    copies = train[train["upsampled"] == "1"]
    assert list(copies["hs_code"]) == ["611011", "611011"]
    assert report["upsampling"]["rows_added"] == 2 and set(validation["upsampled"]) == {"0"}

    excluded = prepare([path], DATA_DIR, tmp_path / "ex", PrepareOptions(nomenclature="exclude", upsample=False))
    assert excluded["excluded"] == 2 and excluded["rejected"] == 0 and excluded["upsampling"]["rows_added"] == 0
    assert excluded["rows_read"] == excluded["kept"] + excluded["excluded"]


def test_conflicting_labels_are_kept_and_reported(tmp_path):
    path = _labelled(tmp_path, [("gift set", "330499", ""), ("Gift Set!", "950300", ""), ("gift set", "330499", "")])
    report = prepare([path], DATA_DIR, tmp_path / "out")
    assert report["kept"] == 2 and report["duplicates"] == 1
    assert report["conflicting_labels"]["texts"] == 1
    assert report["conflicting_labels"]["examples"][0]["codes"] == ["330499", "950300"]


def test_unknown_split_values_are_rejected(tmp_path):
    report = prepare([_labelled(tmp_path, [("boots", "640399", "holdout")])], DATA_DIR, tmp_path / "out")
    assert report["rejected_by_reason"] == {"unknown_split": 1}


def test_job_script_reads_every_csv_in_the_input_dir(corrupted_csv, tmp_path):
    (corrupted_csv.parent / "more.csv.gz").write_bytes(__import__("gzip").compress(b"description,hs_code\ntea,090210\n"))
    (corrupted_csv.parent / "notes.txt").write_text("not data")
    job = subprocess.run([sys.executable, str(PREPROCESS_SCRIPT), "--input-dir", str(corrupted_csv.parent),
                          "--reference-dir", str(DATA_DIR), "--output-dir", str(tmp_path / "job")],
                         capture_output=True, text=True, cwd=tmp_path)  # as SageMaker runs it: a script
    assert job.returncode == 0, job.stderr
    report = json.loads((tmp_path / "job" / "report.json").read_text())
    assert [i["file"] for i in report["inputs"]] == ["corrupted.csv", "more.csv.gz"] and report["rows_read"] == 19
    missing = subprocess.run([sys.executable, str(PREPROCESS_SCRIPT), "--input-dir", str(tmp_path / "none"),
                              "--output-dir", str(tmp_path / "job2")], capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.startswith("preprocess.py: error: input ")


def test_cli_prepare_and_its_column_error(tmp_path, capsys):
    assert hscode(["data", "prepare", str(_labelled(tmp_path, [("boots", "640399", "")])), "--out",
                   str(tmp_path / "out"), "--no-upsample"]) == 0
    assert (tmp_path / "out" / "report.json").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,code_value\nboots,640399\n")
    assert hscode(["data", "prepare", str(bad), "--out", str(tmp_path / "bad")]) == 2
    assert "description,hs_code" in capsys.readouterr().err


@pytest.mark.slow
def test_bundled_dataset(tmp_path):
    report = prepare([BUNDLED_DATASET], DATA_DIR, tmp_path, PrepareOptions(nomenclature="include"))
    assert report["rows_read"] == 36_825 and report["excluded"] == 0
    assert report["rows_read"] == report["kept"] + report["rejected"] + report["duplicates"]
    train, validation, test = (read_split(tmp_path / f"{n}.csv") for n in ("train", "validation", "test"))
    assert report["classes"]["train"] == 5613
    assert set(test["source"]) == {"uk_fpo_extra_references"}  # the fixed test_fpo rows only
    official = {"wco_hs2022_subheading", "us_hts2025_6digit", "us_hts2025_8digit", "us_hts2025_10digit"}
    assert not official & set(validation["source"]) and not official & set(test["source"])
    assert all(len(code) == 6 and code.isdigit() for code in train["hs_code"])
    assert (train["hs_code"].str[0] == "0").any()  # leading zeros kept on the way out and back in
    assert not set(train["text"]) & set(test["text"]) and not set(validation["text"]) & set(test["text"])
    assert not set(train["text"]) & set(validation["text"])


def test_subheadings_keeps_only_the_official_subheading_texts(tmp_path):
    path = tmp_path / "official.csv"
    path.write_text("description,hs_code,split,source\n"
                    + "".join(f"cotton t-shirt {chr(97 + i)},610910,train,uk_hmrc_search_references\n" for i in range(6))
                    + "T-shirts of cotton,610910,train_nomenclature,wco_hs2022_subheading\n"
                    + "T-shirts and singlets; knitted,610910,train_nomenclature,us_hts2025_6digit\n"
                    + "T-shirts; Of cotton; Men's,610910,train_nomenclature,us_hts2025_10digit\n", encoding="utf-8")
    report = prepare([path], DATA_DIR, tmp_path / "out", PrepareOptions(nomenclature="subheadings", upsample=False))
    train = read_split(tmp_path / "out" / "train.csv")
    assert set(train["source"]) >= {"wco_hs2022_subheading", "us_hts2025_6digit"}
    assert "us_hts2025_10digit" not in set(train["source"]) and report["excluded"] == 1
    with pytest.raises(UsageError, match="subheadings"):
        prepare([path], DATA_DIR, tmp_path / "bad", PrepareOptions(nomenclature="some"))

    upsampled = prepare([path], DATA_DIR, tmp_path / "up", PrepareOptions(nomenclature="include", upsample_floor=9,
                                                                          validation_fraction=0.0))
    copies = read_split(tmp_path / "up" / "train.csv").query("upsampled == '1'")
    assert len(copies) == 3 and set(copies["source"]) == {"uk_hmrc_search_references"}  # real rows only
    assert upsampled["upsampling"]["rows_added"] == 3


def test_bundled_dataset_default_keeps_only_the_subheading_texts_of_the_nomenclature(tmp_path):
    report = prepare([BUNDLED_DATASET], DATA_DIR, tmp_path, PrepareOptions(upsample=False))
    assert report["excluded"] == 22_827 and report["splits"]["train_nomenclature_rows"] == 7_632
    assert report["classes"]["train"] == 5613  # every code has a row
    assert report["rows_read"] == report["kept"] + report["rejected"] + report["duplicates"] + report["excluded"]
    assert report["splits"]["test"] == 438  # the 440 test_fpo rows less 2 duplicates after normalisation


def test_without_vague_terms_beside_the_nomenclature_no_detector_is_written(corrupted_csv, tmp_path):
    import shutil

    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(DATA_DIR / "hs2022_nomenclature.csv", reference)
    report = prepare([corrupted_csv], reference, tmp_path / "out", PrepareOptions(seed=1))
    assert report["vagueness"]["fitted"] is False and "hmrc_vague_terms.csv" in report["vagueness"]["reason"]
    assert not (tmp_path / "out" / "vagueness.json").exists()
