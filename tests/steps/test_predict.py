"""load_predictor and `hscode predict`: tar or dir, top-k, per-row errors, batching, CSV output, registry refs."""
from __future__ import annotations

import csv
import json
import sys

import pytest

from pipelines.cli import main as hscode
from steps.hsml import predictor as predictor_module
from steps.hsml.export import pack_model_dir
from steps.hsml.predictor import load_predictor
from tests.steps.model_fixtures import small_splits, trained_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))[0]


@pytest.fixture(scope="module")
def model_tar(model_dir, tmp_path_factory):
    return pack_model_dir(model_dir, tmp_path_factory.mktemp("tar") / "model.tar.gz")


def test_predict_from_tar_and_dir_agree_and_return_sorted_top_k(model_dir, model_tar):
    texts = small_splits()[1]["description"].tolist()[:20]
    from_tar, from_dir = load_predictor(model_tar), load_predictor(model_dir)
    results = from_tar.predict(texts, k=3)
    assert results == from_dir.predict(texts, k=3)
    assert from_tar.metadata["labels"] == from_dir.metadata["labels"]
    for top in results:
        assert len(top) == 3
        probabilities = [p for _, p in top]
        assert probabilities == sorted(probabilities, reverse=True) and 0 <= probabilities[-1] <= probabilities[0] <= 1
        assert all(code in from_tar.metadata["labels"] for code, _ in top)


def test_predictor_normalises_like_training(model_dir):
    predictor = load_predictor(model_dir)
    assert predictor.predict(["MEN&#39;S   Cotton T-SHIRT"], k=2) == predictor.predict(["mens cotton t shirt"], k=2)


def test_bad_rows_get_an_error_and_do_not_disturb_the_others(model_dir):
    predictor = load_predictor(model_dir)
    good = ["steel screws", "wooden chair"]
    rows = predictor.predict_detailed(["", good[0], None, 123, "x" * 1_000_000, "!!! ...", good[1]], k=2)
    errors = [row.error for row in rows]
    assert errors[1] is None and errors[6] is None
    assert "empty after normalisation" in errors[0] and "empty after normalisation" in errors[5]
    assert "missing" in errors[2] and "must be text, got int" in errors[3] and "limit" in errors[4]
    assert [rows[1].top_k, rows[6].top_k] == predictor.predict(good, k=2)
    assert predictor.predict(["", None], k=2) == [[], []]


def test_large_inputs_are_batched_with_the_same_results(model_dir, monkeypatch):
    predictor = load_predictor(model_dir)
    texts = small_splits()[0]["description"].tolist()[:50]
    whole = predictor.predict(texts, k=2)
    monkeypatch.setattr(predictor_module, "BATCH_SIZE", 7)
    batched = predictor.predict(texts, k=2)
    assert [[c for c, _ in top] for top in batched] == [[c for c, _ in top] for top in whole]
    # float sums run in another order when a batch is trimmed to another length
    assert [p for top in batched for _, p in top] == pytest.approx([p for top in whole for _, p in top], rel=1e-4)


def test_cli_prints_codes_names_and_probabilities(model_tar, capsys):
    assert hscode(["predict", "--model", str(model_tar), "steel screws", "-k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "steel screws"
    assert out.count("%") == 2 and "1. " in out and "2. " in out


def test_cli_csv_in_csv_out_keeps_order_and_reports_bad_rows(model_tar, tmp_path):
    source = tmp_path / "items.csv"
    source.write_text("description,other\nsteel screws,a\n,b\nwooden chair,c\n", encoding="utf-8")
    target = tmp_path / "predictions.csv"
    assert hscode(["predict", "--model", str(model_tar), "--input", str(source), "--output", str(target)]) == 0
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["description"] for r in rows] == ["steel screws", "", "wooden chair"]
    assert list(rows[0])[:5] == ["description", "hs_code", "probability", "top_k", "error"]  # as before, then:
    assert list(rows[0])[5:] == ["answer_level", "answer_code", "answer_reason", "answer_set", "vague_score",
                                 "explanation"]
    assert rows[0]["answer_level"] == "none" and "no threshold" in rows[0]["answer_reason"]  # a path has none
    assert rows[1]["error"] and not rows[1]["hs_code"] and not rows[0]["error"]
    top_k = json.loads(rows[0]["top_k"])
    assert len(top_k) == 3 and top_k[0][0] == rows[0]["hs_code"]


def test_cli_registry_reference_without_registry_says_what_to_do(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pipelines.registry", None)  # as if the registry package were absent
    assert hscode(["predict", "--model", "latest-approved", "steel screws"]) == 2
    assert capsys.readouterr().err.startswith("hscode predict: error: cannot resolve model 'latest-approved'")


def test_cli_missing_model_path_is_a_clear_error(tmp_path, capsys):
    assert hscode(["predict", "--model", str(tmp_path / "nope.tar.gz"), "steel screws"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "hscode predict: error: " in captured.err and "not found" in captured.err


def test_cli_with_only_bad_rows_prints_each_error_and_exits_2(model_tar, capsys):
    assert hscode(["predict", "--model", str(model_tar), "!!!", "x" * 1_000_000]) == 2
    captured = capsys.readouterr()
    assert "empty after normalisation" in captured.out and "over the limit of 2,500" in captured.out
    assert "none of the 2 descriptions could be classified" in captured.err


def test_cli_answers_at_the_level_the_thresholds_allow_and_explains_on_request(model_tar, capsys):
    assert hscode(["predict", "--model", str(model_tar), "mens cotton t-shirt", "--thresholds", "1.01,0,0",
                   "--explain", "-k", "3"]) == 0
    out = capsys.readouterr().out
    answer = next(line for line in out.splitlines() if line.startswith("  answer: "))
    assert answer.startswith("  answer: HS4 ") and "HS6 never reached 95 % precision" in answer
    assert out.count("  why ") == 3 and "answer set (p=" in out


def test_cli_refuses_bad_thresholds_and_set_level(model_tar, capsys):
    assert hscode(["predict", "--model", str(model_tar), "x y", "--thresholds", "0.9,0.8"]) == 2
    assert "three values" in capsys.readouterr().err
    assert hscode(["predict", "--model", str(model_tar), "x y", "--set-level", "0"]) == 2
    assert "--set-level" in capsys.readouterr().err
