"""The gate's comparison with the approved model: the verdict, the floor the pipeline compares with, the
message with both numbers, and the pointer as Evaluate reads it."""
from __future__ import annotations

import hashlib
import json

import pytest

from steps.hsml.approved_comparison import ApprovedModel, compare, read_approved, write_comparison
from steps.hsml.cli_errors import UsageError
from steps.hsml.generalisation import probe_report


def test_more_than_the_margin_below_the_approved_model_fails_naming_both_numbers():
    result = compare(0.312, 0.351, 438, 0.03)
    assert result["passed"] is False and result["floor"] == pytest.approx(0.321)
    assert result["message"] == ("HS6 top-1 0.312 is more than 0.03 below the approved model's 0.351 on the same "
                                 "438 test rows (fails)")
    assert result["difference"] == pytest.approx(-0.039)


def test_within_the_margin_or_above_passes():
    assert compare(0.33, 0.351, 438, 0.03)["passed"] is True
    assert "is within 0.03 of" in compare(0.33, 0.351, 438, 0.03)["message"]
    assert "is not below the approved model's 0.351" in compare(0.36, 0.351, 438, 0.03)["message"]
    assert compare(0.30, 0.33, 10, 0.03)["passed"] is True  # exactly the margin below: still passes


def test_no_approved_model_passes_and_says_so(tmp_path):
    result = compare(0.2, None, 12, 0.03)
    assert result["passed"] is True and result["floor"] == 0.0 and result["approved_model"] is None
    assert result["message"].startswith("no approved model in the group yet")
    assert json.loads(write_comparison(result, tmp_path).read_text()) == result
    with pytest.raises(UsageError, match="between 0 and 1"):
        compare(0.2, 0.3, 12, 3)


def test_the_approved_archive_itself_is_flagged_so_it_is_not_registered_again(tmp_path):
    approved = ApprovedModel(tmp_path / "model.tar.gz", "arn:x/3", 3, "ab" * 32)
    same = compare(0.35, 0.35, 438, 0.03, approved, candidate_checksum="ab" * 32)
    assert same["passed"] is True and same["candidate_is_approved"] == 1
    assert same["message"].endswith("it is the approved model itself (same sha256): nothing new to register")
    other = compare(0.36, 0.35, 438, 0.03, approved, candidate_checksum="cd" * 32)
    assert other["candidate_is_approved"] == 0 and "itself" not in other["message"]
    assert compare(0.36, 0.35, 438, 0.03, approved)["candidate_is_approved"] == 0  # an extracted dir: no sha256
    assert compare(0.2, None, 12, 0.03, candidate_checksum="ab" * 32)["candidate_is_approved"] == 0


def test_read_approved_checks_the_pointer_and_the_models_checksum(tmp_path):
    with pytest.raises(UsageError, match="approved.json not found"):
        read_approved(tmp_path)
    (tmp_path / "approved.json").write_text('{"model": null}')
    assert read_approved(tmp_path) is None
    body = b"model bytes"
    pointer = {"model": {"arn": "arn:x/3", "version": 3, "checksum": hashlib.sha256(body).hexdigest(),
                         "file": "model.tar.gz"}}
    (tmp_path / "approved.json").write_text(json.dumps(pointer))
    with pytest.raises(UsageError, match="model.tar.gz is not beside it"):
        read_approved(tmp_path)
    (tmp_path / "model.tar.gz").write_bytes(body)
    approved = read_approved(tmp_path)
    assert (approved.version, approved.arn, approved.path.name) == (3, "arn:x/3", "model.tar.gz")
    (tmp_path / "model.tar.gz").write_bytes(body + b"!")
    with pytest.raises(UsageError, match="does not have the sha256"):
        read_approved(tmp_path)


def test_probe_report_measures_accuracy_per_level_and_the_commonest_prediction():
    descriptions = ["lipstick", "lip gloss", "tea bags", "green tea"]
    codes = ["330410", "330410", "090230", "090210"]
    # A model swamped by long text: it answers the cosmetics code to everything.
    report = probe_report(lambda texts: ["330499"] * len(texts), descriptions, codes)
    assert report["hs6_top1_accuracy"] == 0.0 and report["hs4_top1_accuracy"] == 0.5
    assert report["hs2_top1_accuracy"] == 0.5
    assert (report["commonest_predicted_code"], report["commonest_predicted_share"]) == ("330499", 1.0)
    assert (report["true_commonest_code"], report["true_commonest_share"]) == ("330410", 0.5)
    assert set(report["kinds"]) == {"pad", "concat"} and report["probe_rows"] == 8
    # A model that reads the product word keeps its answers.
    perfect = probe_report(lambda texts: [next(c for d, c in zip(descriptions, codes) if t.startswith(d) or
                                               f" {d} " in f" {t} ") for t in texts], descriptions, codes)
    assert perfect["hs2_top1_accuracy"] == 1.0
