"""Capture joined with ground truth: one Observation per captured row, and the bad input that is refused."""
from __future__ import annotations

import json

import pytest

from pipelines import settings
from pipelines.monitoring.observations import read_observations
from steps.hsml.cli_errors import UsageError
from steps.hsml.hs_codes import load_hs6_codes
from tests.pipelines.monitoring.synthetic import ENDPOINT, WHEN, request_record, write_labels, write_lines

VARIANTS = ("champion", "challenger")


@pytest.fixture(scope="module")
def hs6():
    return set(load_hs6_codes(settings.HS2022_NOMENCLATURE))


def _capture(root, variant, records, name="00-00-000-aaaaaaaa.jsonl", extra_lines=()):
    write_lines(root / ENDPOINT / variant / WHEN.strftime("%Y/%m/%d/%H") / name,
                [json.dumps(r) for r in records] + list(extra_lines))


def test_rows_join_by_row_inference_id_with_errors_latency_and_truncated_lines(tmp_path, hs6):
    capture, truth = tmp_path / "capture", tmp_path / "ground-truth"
    _capture(capture, "champion", [
        request_record([("610910", "610910")], WHEN, request_id="decl-1"),
        request_record([("940161", "940169"), ("847130", None)], WHEN, request_id="decl-2", latency_ms=None),
    ], extra_lines=['{"captureData": {"endpointInput": {"observedContentType": "applica'])
    _capture(capture, "challenger", [request_record([("610910", "610910")], WHEN, request_id="decl-3")])
    write_labels(truth, {"decl-1": "610910", "decl-2:0": "940161", "decl-2:1": "847130"})
    write_labels(truth, {"decl-1": "610990"}, name="00-00-001-correction.jsonl")  # the latest label wins

    read = read_observations(capture, truth, ENDPOINT, VARIANTS, valid_codes=hs6)

    by_id = {o.row_id: o for o in read.observations}
    assert sorted(by_id) == ["decl-1", "decl-2:0", "decl-2:1", "decl-3"]
    assert (by_id["decl-1"].predicted, by_id["decl-1"].label, by_id["decl-1"].latency_ms) == ("610910", "610990", 4.0)
    assert (by_id["decl-2:0"].predicted, by_id["decl-2:0"].label, by_id["decl-2:0"].error) == ("940169", "940161",
                                                                                                False)
    assert by_id["decl-2:1"].predicted is None and by_id["decl-2:1"].error is True
    assert by_id["decl-2:1"].latency_ms is None  # a record without latency metadata
    assert by_id["decl-3"].label is None and by_id["decl-3"].variant == "challenger"
    summary = read.summary()
    assert summary["rows"] == {"challenger": 1, "champion": 3} and summary["requests"] == {"challenger": 1,
                                                                                         "champion": 2}
    assert summary["joined"] == 3 and summary["labels"] == 3
    assert summary["bad_capture_lines"] == 1 and "line 3" in summary["bad_line_examples"][0]


def test_a_truncated_ground_truth_line_is_counted_not_fatal(tmp_path, hs6):
    capture, truth = tmp_path / "capture", tmp_path / "ground-truth"
    for variant in VARIANTS:
        _capture(capture, variant, [request_record([("610910", "610910")], WHEN, request_id=f"{variant}-1")])
    write_lines(truth / WHEN.strftime("%Y/%m/%d/%H") / "x.jsonl",
                ['{"groundTruthData": {"data": "610910", "encoding": "CSV"}, "eventMetadata": {"eventId": "champion-1"}}',
                 '{"groundTruthData": {"data": "6109'])
    read = read_observations(capture, truth, ENDPOINT, VARIANTS, valid_codes=hs6)
    assert read.summary()["bad_ground_truth_lines"] == 1 and read.joined == 1


def test_a_plan_variant_without_capture_is_refused(tmp_path):
    _capture(tmp_path, "champion", [request_record([("610910", "610910")], WHEN, request_id="a")])
    with pytest.raises(UsageError, match="variant challenger of the plan has no capture"):
        read_observations(tmp_path, tmp_path / "gt", ENDPOINT, VARIANTS)


def test_capture_and_plan_disagreeing_on_variant_names_is_refused(tmp_path):
    for variant in ("champion", "variant-b"):
        _capture(tmp_path, variant, [request_record([("610910", "610910")], WHEN, request_id=variant)])
    with pytest.raises(UsageError, match="capture and plan disagree on variant names.*variant-b not in the plan"):
        read_observations(tmp_path, tmp_path / "gt", ENDPOINT, VARIANTS)


def test_no_capture_for_the_endpoint_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no capture for endpoint 'hs-code'"):
        read_observations(tmp_path, tmp_path / "gt", ENDPOINT, VARIANTS)


def test_ground_truth_that_is_not_hs_2022_is_refused_with_a_hint(tmp_path, hs6):
    for variant in VARIANTS:
        _capture(tmp_path / "c", variant, [request_record([("610910", "610910")], WHEN, request_id=variant)])
    write_labels(tmp_path / "g", {"champion": "610910", "challenger": "6109.1"})
    with pytest.raises(UsageError, match=r"1 code\(s\) that are not 6-digit HS 2022 subheadings, e.g. "
                                         r"challenger: '6109.1'"):
        read_observations(tmp_path / "c", tmp_path / "g", ENDPOINT, VARIANTS, valid_codes=hs6)


def test_only_traffic_inside_the_window_counts(tmp_path):
    from datetime import timedelta

    for variant in VARIANTS:
        _capture(tmp_path, variant, [request_record([("610910", "610910")], WHEN, request_id=f"{variant}-old"),
                                     request_record([("610910", "610910")], WHEN + timedelta(minutes=5),
                                                    request_id=f"{variant}-new")])
    read = read_observations(tmp_path, tmp_path / "gt", ENDPOINT, VARIANTS, since=WHEN + timedelta(minutes=1))
    assert sorted(o.row_id for o in read.observations) == ["challenger-new", "champion-new"]
