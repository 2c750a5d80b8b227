"""The accuracy benchmark's harness: the report on hand-made results (fast), the cross-source inputs, the honesty
scan, fastText when the bench extra is installed, and the quick mode end to end (slow)."""
import json

import pandas as pd
import pytest

from bench import accuracy, cross_source, honesty, report

TRAIN_CODES = 0.04  # every fake model's commonest prediction takes 4 % of its training rows


def _scores(hs6, hs2=0.6, commonest=0.1, code="330499"):
    return {"hs2_top1": hs2, "hs4_top1": (hs2 + hs6) / 2, "hs6_top1": hs6, "hs6_top3": hs6 + 0.1, "macro_f1": 0.2,
            "weighted_f1": 0.3, "rows": 400, "commonest_predicted": code, "commonest_predicted_share": commonest,
            "commonest_predicted_train_share": TRAIN_CODES, "commonest_true": "330499", "commonest_true_share": 0.05}


def _run(name, check, hs6, *, val=0.4, hs2=0.6, commonest=0.1, model=None, upsampled=True, **extra):
    row = {"check": check, "name": name, "model": model or name, "upsampled": upsampled, "trained_on": "real rows",
           "train_rows": 5000, "train_seconds": 10.0, "ablation": name.endswith(("_noup", "_deep")),
           "val_hs6_top1": val, "val_hs2_top1": 0.6, "val_probe_hs6_top1": val, "val_selection": val,
           "unseen_test_rows": 40, **_scores(hs6, hs2, commonest)}
    if check == "in_domain":
        row.update({"size_mb": 5.0, "p50_ms": 2.0, "p99_ms": 4.0, "batch_per_s": 6000.0, "accept_threshold": 0.9,
                    "accept_coverage": 0.35, "accept_precision": 0.96, "precision_at_30_coverage": 0.97,
                    "probes": {"pad": _scores(hs6 / 2, commonest=commonest), "concat": _scores(hs6, commonest=commonest)}})
    row.update(extra)
    return row


CHECK = {"splits": {"train": 5400, "validation": 440, "train_nomenclature_rows": 0, "train_with_upsampling": 10000},
         "test_rows": 440, "test_classes": 190, "train_classes": 1700, "real_train_rows": 5400,
         "train_commonest": "330499", "train_commonest_share": 0.05}
CONTEXT = {"quick": False, "epochs": None, "threads": 2, "cpu_count": 2, "load_average_start": 1.0,
           "load_average_end": 1.0, "wall_seconds": 600, "probe_seed": 0,
           "checks": {"in_domain": CHECK, "hmrc_to_fpo": CHECK, "fpo_to_hmrc": CHECK},
           "test_fpo_choices": [{"file": "steps/hsml/hyperparameters.py", "line": 49,
                                 "text": "These defaults were chosen after seeing those test_fpo rows."}]}


def _all_targets_met():
    rows = [_run("dnn", "in_domain", 0.50, val=0.45), _run("tfidf", "in_domain", 0.40, upsampled=False)]
    for check in ("hmrc_to_fpo", "fpo_to_hmrc"):
        rows += [_run("dnn", check, 0.25, hs2=0.5), _run("tfidf", check, 0.20, hs2=0.4, upsampled=False)]
    return rows


def test_results_json_holds_the_context_and_one_object_per_run(tmp_path):
    rows = _all_targets_met() + [{"check": "in_domain", "name": "minilm", "model": "minilm", "skipped": "no torch"}]
    report.write_results(rows, CONTEXT, tmp_path)
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert saved["context"]["checks"]["in_domain"]["test_rows"] == 440
    assert [(r["check"], r["name"]) for r in saved["runs"]][:2] == [("in_domain", "dnn"), ("in_domain", "tfidf")]
    assert list(saved["runs"][0])[:4] == ["check", "name", "model", "upsampled"]
    text = (tmp_path / "accuracy.md").read_text()
    assert "skipped: no torch" in text
    assert "## Cross-source: HMRC search terms → FPO declarations" in text
    assert "## Long-text probe \"pad\"" in text


def test_every_target_line_is_computed_and_met_when_the_numbers_say_so():
    text = report.markdown(_all_targets_met(), CONTEXT)
    targets = text.split("## Issue 13's targets")[1].split("## Which choices")[0]
    assert targets.count("**met**") == 8 and "NOT met" not in targets  # 4 targets (one in 3 readings) + 2 serving
    assert "coverage 35.0 % at threshold 0.90" in targets
    assert "HS6 25.0 vs 20.0 % (+20 of 400 rows), HS2 50.0 vs 40.0 % (+40 of 400 rows)" in targets
    assert "(2.5×)" in targets  # 10 % of predictions against 4 % of training rows


def test_targets_are_missed_when_the_numbers_miss_them():
    rows = _all_targets_met()
    rows[0] = _run("dnn", "in_domain", 0.38, val=0.45, commonest=0.32, accept_coverage=0.021)
    rows[2] = _run("dnn", "hmrc_to_fpo", 0.25, hs2=0.3)  # behind TF-IDF at HS2 in one direction
    targets = report.markdown(rows, CONTEXT).split("## Issue 13's targets")[1].split("## Which choices")[0]
    lines = {line.split("|")[1].strip()[:20]: line for line in targets.splitlines() if line.startswith("| ")}
    assert "**NOT met**" in lines["HS6 top-1 on test_fp"]
    assert "**NOT met**" in lines["precision ≥ 95% on a"] and "coverage 2.1 %" in lines["precision ≥ 95% on a"]
    assert "**NOT met**" in lines["cross-source: the be"]
    assert "**NOT met**" in lines["commonest predicted "] and "(8.0×)" in lines["commonest predicted "]
    assert "**NOT met**" in lines["the same, against th"] and "32.0 % vs 5.0 % (6.4×)" in lines["the same, against th"]
    (against_truth,) = [line for line in targets.splitlines() if "commonest true code of the scored rows" in line]
    assert "**NOT met**" in against_truth and "32.0 % vs 5.0 % (6.4×)" in against_truth
    (training_prior,) = [line for line in targets.splitlines() if "commonest code of the training rows" in line]
    assert "**NOT met**" in training_prior


def test_the_best_network_is_chosen_on_validation_never_on_test_fpo():
    rows = [_run("textcnn", "in_domain", 0.50, val=0.30), _run("dnn", "in_domain", 0.35, val=0.40),
            _run("dnn_deep", "in_domain", 0.60, val=0.90, model="dnn", upsampled=False),  # ablations never count
            _run("fasttext", "in_domain", 0.55, val=0.95, upsampled=False)]  # nor do baselines
    assert report.best_network(rows)["name"] == "dnn"
    text = report.markdown(rows, CONTEXT)
    assert "The best network is **DNN (wide and deep)**" in text
    assert "35.0 % (highest of any model: DNN ablation: deep part only, softmax, 60.0 %)" in text
    assert "not measured in this run" in text  # no cross-source rows


def test_the_report_quotes_the_code_comments_about_test_fpo_and_the_fasttext_choice():
    grid = [{"epoch": 25, "lr": 0.5, "validation_hs6_top1": 0.21, "fit_seconds": 20.0},
            {"epoch": 25, "lr": 1.0, "validation_hs6_top1": 0.30, "fit_seconds": 19.0}]
    settings = {"loss": "softmax", "minn": 2, "maxn": 4, "wordNgrams": 2, "epoch": 25, "lr": 1.0, "thread": 1,
                "seed": 0}
    rows = [_run("fasttext", "in_domain", 0.3, upsampled=False, fasttext_grid=grid, settings=settings,
                 selection_seconds=39.0)]
    text = report.markdown(rows, CONTEXT)
    assert "`steps/hsml/hyperparameters.py:49`: These defaults were chosen after seeing those test_fpo rows." in text
    assert "epoch=25, lr=1.0, thread=1, seed=0" in text
    assert "| 25 | 1.0 | 30.0 | 19 |" in text


def test_honesty_scan_finds_comment_blocks_naming_test_fpo(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "defaults.py").write_text(
        '"""test_fpo in a docstring is not a choice."""\n'
        "# Chosen on validation only.\n"
        "A = 1\n"
        "# Picked after looking at\n"
        "# test_fpo accuracy.\n"
        "B = 2  # test_fpo said so\n", encoding="utf-8")
    found = honesty.recorded_test_fpo_choices(tmp_path, ("steps/*.py",))
    assert [(c["line"], c["text"]) for c in found] == [(4, "Picked after looking at test_fpo accuracy."),
                                                       (6, "test_fpo said so")]


def test_cross_source_inputs_train_on_one_source_score_the_other_and_never_touch_test_fpo():
    bundled = pd.DataFrame({
        "description": ["a", "b", "c", "d", "e", "f"],
        "hs_code": ["010121"] * 6,
        "source": ["uk_hmrc_search_references", "uk_hmrc_search_references", "uk_fpo_extra_references",
                   "uk_fpo_extra_references", "uk_fpo_extra_references", "wco_hs2022_subheading"],
        "orig_code": [""] * 6,
        "split": ["train", "train", "train", "train", "test_fpo", "train_nomenclature"],
    })
    frame = cross_source.check_frame(bundled, "hmrc_to_fpo")
    assert dict(zip(frame["description"], frame["split"])) == {"a": "train", "b": "train", "c": "test", "d": "test",
                                                               "f": "train_nomenclature"}
    reverse = cross_source.check_frame(bundled, "fpo_to_hmrc")
    assert dict(zip(reverse["description"], reverse["split"])) == {"c": "train", "d": "train", "a": "test",
                                                                   "b": "test", "f": "train_nomenclature"}
    with pytest.raises(ValueError):
        cross_source.check_frame(bundled[bundled["source"] != "uk_fpo_extra_references"], "hmrc_to_fpo")


def test_command_line_choices():
    with pytest.raises(SystemExit):
        accuracy.parse_args(["--models", "textcnn,bert"])
    with pytest.raises(SystemExit):
        accuracy.parse_args(["--checks", "sealed"])
    args = accuracy.parse_args(["--quick", "--no-ablation", "--checks", "cross_source", "--models", "dnn,dnn_deep"])
    assert args.epochs == 1 and args.models == ["dnn"] and args.checks == ["hmrc_to_fpo", "fpo_to_hmrc"]
    full = accuracy.parse_args([])
    assert ("in_domain", "dnn_deep") in accuracy.planned_runs(full)
    assert ("hmrc_to_fpo", "dnn_deep") not in accuracy.planned_runs(full)  # ablations run in domain only
    assert accuracy.planned_runs(full)[0][0] == "in_domain"  # fastText's choice is made there first


def test_fasttext_fits_deterministically_and_predicts_hs6_codes():
    pytest.importorskip("fasttext")
    from bench.fasttext_baseline import FastTextPredictor, choose_on_validation

    # 100k hash buckets (40 MB, not 800): far fewer make the n-gram rows collide so often that training diverges.
    texts = ["cotton t shirt", "wool jumper", "red wine", "white wine", "leather shoes", "running shoes"] * 20
    codes = ["610910", "611011", "220421", "220421", "640399", "640411"] * 20
    first = FastTextPredictor(10, 0.1, bucket=100_000).fit(texts, codes).predict(["Cotton T-shirt", "wine"], k=2)
    again = FastTextPredictor(10, 0.1, bucket=100_000).fit(texts, codes).predict(["Cotton T-shirt", "wine"], k=2)
    assert first == again  # one thread, fixed seed
    assert all(len(row) == 2 and all(len(code) == 6 and 0 <= p <= 1 for code, p in row) for row in first)
    assert [row[0][0] for row in first] == ["610910", "220421"]  # normalised like the training text
    choice = choose_on_validation(texts, codes, ["cotton t shirt"], ["610910"], grid=((1, 0.1), (10, 0.1)),
                                  log=lambda m: None, bucket=100_000)
    assert [g["epoch"] for g in choice.grid] == [1, 10]
    assert choice.predictor.epoch == max(choice.grid, key=lambda g: g["validation_hs6_top1"])["epoch"]


@pytest.mark.slow
def test_quick_mode_runs_end_to_end_without_touching_bench_results(tmp_path):
    results_before = {p.name: p.read_bytes() for p in accuracy.DEFAULT_OUT.glob("*") if p.is_file()}
    accuracy.main(["--quick", "--models", "dnn,tfidf", "--no-ablation", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "accuracy.json").read_text())
    assert [(r["check"], r["name"]) for r in saved["runs"]] == [
        (check, model) for check in ("in_domain", "hmrc_to_fpo", "fpo_to_hmrc") for model in ("dnn", "tfidf")]
    for row in saved["runs"]:
        assert 0 <= row["hs6_top1"] <= row["hs6_top3"] <= 1
        assert row["hs6_top1"] <= row["hs4_top1"] <= row["hs2_top1"]
        assert 0 < row["commonest_predicted_share"] <= 1
    in_domain = saved["runs"][0]
    assert in_domain["size_mb"] > 0 and in_domain["batch_per_s"] > 0 and in_domain["p50_ms"] <= in_domain["p99_ms"]
    assert set(in_domain["probes"]) == {"pad", "concat"}
    assert "Quick mode" in (tmp_path / "accuracy.md").read_text()
    accuracy.main(["--report-only", "--out", str(tmp_path)])  # the page again, from the JSON alone
    assert "Quick mode" in (tmp_path / "accuracy.md").read_text()
    assert {p.name: p.read_bytes() for p in accuracy.DEFAULT_OUT.glob("*") if p.is_file()} == results_before


def test_the_page_says_which_networks_did_not_run():
    rows = _all_targets_met()  # DNN only
    text = report.markdown(rows, CONTEXT)
    assert "**Not in this run** (`--models`): Text-CNN, LSTM" in text
    rows += [_run("textcnn", "in_domain", 0.3, val=0.3), _run("lstm", "in_domain", 0.3, val=0.3)]
    assert "Not in this run" not in report.markdown(rows, CONTEXT)


LIMITS = {"test_share_no_real_training_row": 0.09, "test_share_too_few_texts_for_validation": 0.19,
          "min_texts_for_validation": 3, "hmrc_to_fpo_scored_share_with_a_trained_code": 0.675,
          "fpo_to_hmrc_scored_share_with_a_trained_code": 0.26}


def test_each_missed_target_says_why_with_the_datas_limits_and_a_met_one_says_nothing():
    context = {**CONTEXT, "data_limits": LIMITS}
    assert "## Why the targets not met" not in report.markdown(_all_targets_met(), context)
    rows = _all_targets_met()
    rows[0] = _run("dnn", "in_domain", 0.38, val=0.45, accept_coverage=0.021)
    rows[2] = _run("dnn", "hmrc_to_fpo", 0.25, hs2=0.3)
    why = report.markdown(rows, context).split("## Why the targets not met are not met")[1].split("## ")[0]
    assert "9.0 % of test_fpo rows have a code with no real training row" in why
    assert "1 of 2 models read higher on validation" in why and "DNN (wide and deep) 45.0 → 38.0" in why
    assert "the best network is -8 of 400 rows against TF-IDF" in why
    assert "right 97.0 % of the time" in why
    assert "only 67.5 % of the scored rows have a code the training source has" in why
    assert "only 26.0 %" not in why  # that direction met its target


def test_the_data_limits_are_computed_from_the_bundled_rows():
    from bench.limits import data_limits

    limits = data_limits()
    assert limits["test_rows"] == 440 and limits["min_texts_for_validation"] == 3
    assert 0 < limits["test_share_no_real_training_row"] < limits["test_share_too_few_texts_for_validation"] < 1
    assert limits["fpo_to_hmrc_scored_share_with_a_trained_code"] < limits["hmrc_to_fpo_scored_share_with_a_trained_code"]
