"""The benchmark harness: report writing on hand-made rows (fast) and the quick mode end to end (slow)."""
import json

import pytest

from bench import accuracy, report


def _row(model, upsampled, hs6, **extra):
    return {"model": model, "upsampled": upsampled, "trained_on": "x", "hs2_top1": 0.6, "hs4_top1": 0.5,
            "hs6_top1": hs6, "hs6_top3": hs6 + 0.1, "macro_f1": 0.2, "train_seconds": 10.0, "size_mb": 5.0,
            "p50_ms": 2.0, "p99_ms": 4.0, "batch_per_s": 6000.0, "test_rows": 440, "unseen_test_rows": 40, **extra}


CONTEXT = {"quick": False, "epochs": 5, "threads": 2, "cpu_count": 2, "load_average_start": 1.0,
           "load_average_end": 1.0, "wall_seconds": 600, "test_classes": 300, "train_classes": 5000,
           "prepare_report": {"splits": {"train": 35000, "validation": 600, "test": 440,
                                         "train_nomenclature_rows": 30000, "train_with_upsampling": 40000}}}


def test_results_json_has_one_object_per_run_with_the_agreed_keys(tmp_path):
    rows = [_row("textcnn", True, 0.42), _row("textcnn", False, 0.40), _row("tfidf", False, 0.38),
            {"model": "minilm", "skipped": "torch is not installed"}]
    report.write_results(rows, CONTEXT, tmp_path)
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert [(r["model"], r["upsampled"]) for r in saved] == [("textcnn", True), ("textcnn", False), ("tfidf", False)]
    assert list(saved[0])[: len(report.JSON_KEYS)] == list(report.JSON_KEYS)
    text = (tmp_path / "accuracy.md").read_text()
    assert "| Text-CNN | yes |" in text and "**42.0**" in text
    assert "40.0% → 42.0%" in text  # our ablation next to the published one
    assert "beats the classical TF-IDF baseline (38.0%)" in text
    assert "skipped: torch is not installed" in text


def test_report_says_so_when_the_network_loses_and_targets_are_missed(tmp_path):
    rows = [_row("dnn", True, 0.30, batch_per_s=900.0, p50_ms=9.0), _row("tfidf", False, 0.38),
            _row("minilm", False, 0.35, batch_per_s=90.0, p50_ms=90.0)]
    text = report.markdown(rows, CONTEXT)
    assert "does NOT beat" in text
    assert "900 (NOT met)" in text and "9.00 ms (NOT met)" in text
    assert "10× the batch throughput" in text


def test_unknown_model_is_refused():
    with pytest.raises(SystemExit):
        accuracy.parse_args(["--models", "textcnn,bert"])
    assert accuracy.parse_args(["--quick"]).epochs == 1


@pytest.mark.slow
def test_quick_mode_runs_end_to_end_without_touching_bench_results(tmp_path):
    results_before = {p.name: p.read_bytes() for p in accuracy.DEFAULT_OUT.glob("*") if p.is_file()}
    accuracy.main(["--quick", "--models", "dnn,tfidf", "--no-ablation", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert [r["model"] for r in saved] == ["dnn", "tfidf"]
    for row in saved:
        assert 0 <= row["hs6_top1"] <= row["hs6_top3"] <= 1
        assert row["hs6_top1"] <= row["hs4_top1"] <= row["hs2_top1"]
        assert row["size_mb"] > 0 and row["batch_per_s"] > 0 and row["p50_ms"] <= row["p99_ms"]
    assert "Quick mode" in (tmp_path / "accuracy.md").read_text()
    assert {p.name: p.read_bytes() for p in accuracy.DEFAULT_OUT.glob("*") if p.is_file()} == results_before
