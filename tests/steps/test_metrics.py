"""Metrics on hand-made predictions whose answers can be worked out on paper."""
import json
import math

import pytest

from steps.hsml import metrics

# Four rows. Row 0: right at HS6 top-1. Row 1: top-1 right only at HS4, exact code second.
# Row 2: top-1 right only at HS2, exact code third. Row 3: wrong chapter everywhere.
Y_TRUE = ["610910", "610990", "620342", "847130"]
PREDICTIONS = [
    [("610910", 0.97), ("610990", 0.02), ("620342", 0.01)],
    [("610910", 0.60), ("610990", 0.30), ("620462", 0.10)],
    [("621710", 0.50), ("620462", 0.30), ("620342", 0.20)],
    [("950300", 0.80), ("392690", 0.15), ("847130", 0.05)],
]


def test_topk_accuracy_at_each_level():
    table = metrics.topk_table(Y_TRUE, PREDICTIONS, ks=(1, 3), levels=(2, 4, 6))
    assert table["hs6_top1"] == pytest.approx(1 / 4)
    assert table["hs4_top1"] == pytest.approx(2 / 4)  # rows 0 and 1 (6109)
    assert table["hs2_top1"] == pytest.approx(3 / 4)  # rows 0, 1, 2 (chapters 61, 61, 62)
    assert table["hs6_top3"] == pytest.approx(4 / 4)  # every exact code is somewhere in the top 3
    assert table["hs4_top3"] == pytest.approx(4 / 4)
    assert table["hs2_top3"] == pytest.approx(4 / 4)


def test_topk_counts_a_prefix_match_from_a_lower_rank():
    # HS4 top-3 on row 3 alone: only the third candidate (847130) shares heading 8471.
    assert metrics.topk_accuracy(["847150"], [PREDICTIONS[3]], k=3, digits=4) == 1.0
    assert metrics.topk_accuracy(["847150"], [PREDICTIONS[3]], k=2, digits=4) == 0.0


def test_topk_rejects_misaligned_inputs():
    with pytest.raises(ValueError, match="align"):
        metrics.topk_accuracy(Y_TRUE, PREDICTIONS[:2], k=1)


def test_classification_scores_match_hand_computation():
    y_true = ["a", "a", "b", "c"]
    y_pred = ["a", "b", "b", "b"]
    scores = metrics.classification_scores(y_true, y_pred)
    # precision a=1, b=1/3, c=0 ; recall a=1/2, b=1, c=0
    f1_a, f1_b = 2 * 1 * 0.5 / 1.5, 2 * (1 / 3) * 1 / (4 / 3)
    assert scores["accuracy"] == pytest.approx(0.5)
    assert scores["macro_precision"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert scores["macro_f1"] == pytest.approx((f1_a + f1_b + 0) / 3)
    assert scores["weighted_f1"] == pytest.approx((2 * f1_a + f1_b) / 4)
    assert scores["weighted_recall"] == pytest.approx(0.5)


def test_coverage_curve_accepts_predictions_at_or_above_threshold():
    curve = {p.threshold: p for p in metrics.coverage_curve(Y_TRUE, PREDICTIONS)}
    assert len(curve) == 100 and min(curve) == 0.0 and max(curve) == 0.99
    assert curve[0.0].coverage == 1.0 and curve[0.0].accuracy == pytest.approx(1 / 4)
    # top-1 probabilities: 0.97 (right), 0.60, 0.50, 0.80 (all wrong)
    assert curve[0.6].accepted == 3 and curve[0.6].accuracy == pytest.approx(1 / 3)
    assert curve[0.81].accepted == 1 and curve[0.81].accuracy == 1.0
    assert curve[0.98].accepted == 0 and curve[0.98].accuracy is None


def test_threshold_for_accuracy_picks_the_widest_coverage():
    curve = metrics.coverage_curve(Y_TRUE, PREDICTIONS)
    point = metrics.threshold_for_accuracy(curve, 0.95)
    assert point.threshold == pytest.approx(0.81) and point.coverage == pytest.approx(0.25)
    never = metrics.coverage_curve(["111111"], [[("222222", 0.9)]])
    assert metrics.threshold_for_accuracy(never, 0.9) is None


def test_per_chapter_accuracy_and_confusion():
    table = metrics.per_chapter_accuracy(Y_TRUE, PREDICTIONS, {"61": "knitted apparel"})
    by_chapter = {row["chapter"]: row for row in table}
    assert by_chapter["61"] == {"chapter": "61", "name": "knitted apparel", "rows": 2, "hs6_top1": 0.5, "hs2_top1": 1.0}
    assert by_chapter["84"]["hs2_top1"] == 0.0 and by_chapter["84"]["name"] == ""
    labels, matrix = metrics.chapter_confusion(Y_TRUE, PREDICTIONS)
    assert labels == ["61", "62", "84", "95"]
    assert matrix[labels.index("61"), labels.index("61")] == 2
    assert matrix[labels.index("84"), labels.index("95")] == 1
    assert matrix.sum() == 4


def test_unseen_labels_are_counted():
    assert metrics.unseen_labels(Y_TRUE, ["610910", "610990"]) == {"620342": 1, "847130": 1}
    assert metrics.unseen_labels(Y_TRUE, None) == {}


def test_model_quality_report_is_sagemaker_format_with_hs6_top1_as_accuracy():
    report = metrics.model_quality_report(
        Y_TRUE, PREDICTIONS, known_labels=["610910", "610990", "620342"], chapter_names={"61": "knitted"}
    )
    json.loads(json.dumps(report, allow_nan=False))  # strict JSON: no NaN literals
    mcm = report["multiclass_classification_metrics"]
    assert mcm["accuracy"]["value"] == pytest.approx(0.25)  # the quality gate reads exactly this path
    for name in ("weighted_f1", "weighted_precision", "weighted_recall", "weighted_f0_5", "weighted_f2",
                 "accuracy_best_constant_classifier", "weighted_f1_best_constant_classifier"):
        assert set(mcm[name]) == {"value", "standard_deviation"}, name
    assert mcm["hs4_top1_accuracy"]["value"] == pytest.approx(0.5)
    assert mcm["hs6_top5_accuracy"]["value"] == pytest.approx(1.0)
    assert "macro_f1" in mcm
    assert mcm["confusion_matrix"]["84"] == {"95": 1}
    assert mcm["unseen_label_rate"]["value"] == pytest.approx(0.25)
    extra = report["hs_code_evaluation"]
    assert extra["unseen_labels"] == [{"hs_code": "847130", "rows": 1}]
    assert [p["target_accuracy"] for p in extra["operating_points"]] == [0.9, 0.95]
    assert mcm["coverage_at_95_accuracy"]["value"] == pytest.approx(0.25)
    assert mcm["accept_threshold"]["value"] == mcm["threshold_at_95_accuracy"]["value"]


def test_accept_threshold_is_always_present_and_accepts_nothing_when_95_percent_is_out_of_reach():
    wrong = [[("999999", 0.9)] for _ in Y_TRUE]  # every answer wrong: no threshold reaches 95 %
    mcm = metrics.model_quality_report(Y_TRUE, wrong)["multiclass_classification_metrics"]
    assert "threshold_at_95_accuracy" not in mcm
    assert mcm["accept_threshold"]["value"] == metrics.NEVER_ACCEPT > 1.0


def test_standard_deviation_follows_model_monitor_recipe():
    # 80% samples of a perfectly right set are all perfect: zero spread; a mixed set spreads.
    y = [str(100000 + i) for i in range(50)]
    perfect = [[(code, 0.9)] for code in y]
    report = metrics.model_quality_report(y, perfect)
    assert report["multiclass_classification_metrics"]["accuracy"]["standard_deviation"] == 0.0
    half = [[(code if i % 2 else "999999", 0.9)] for i, code in enumerate(y)]
    std = metrics.model_quality_report(y, half)["multiclass_classification_metrics"]["accuracy"]["standard_deviation"]
    assert 0 < std < 0.2 and not math.isnan(std)


def test_empty_prediction_rows_count_as_errors():
    report = metrics.model_quality_report(["010121"], [[]])
    assert report["multiclass_classification_metrics"]["accuracy"]["value"] == 0.0


def test_each_level_gets_its_own_95_percent_threshold_and_coverage():
    from steps.hsml.metrics import hierarchical_answers, model_quality_report, parent_predictions

    # HS6 is torn between two cotton/other t-shirt codes, but the heading 6109 is sure and right
    y_true = ["610910"] * 10 + ["620520"] * 10
    hs6 = [[("610990", 0.5), ("610910", 0.45)]] * 10 + [[("620520", 0.97), ("620530", 0.01)]] * 10
    report = model_quality_report(y_true, hs6)
    m, d = report["multiclass_classification_metrics"], report["hs_code_evaluation"]
    assert m["accept_threshold"]["value"] == 0.51 and m["accept_coverage"]["value"] == 0.5
    assert m["accept_threshold_hs4"]["value"] == 0.0 and m["accept_coverage_hs4"]["value"] == 1.0
    assert m["accept_threshold_hs2"]["value"] == 0.0
    assert d["parent_levels_from"] == "summed top-k HS6"
    assert [p["level"] for p in d["level_operating_points"]] == ["hs6", "hs4", "hs2"]
    assert set(d["level_coverage_curves"]) == {"hs6", "hs4", "hs2"}
    assert parent_predictions(hs6[:1], 4) == [[("6109", 0.95)]]
    answers = d["hierarchical_answers"]
    assert answers["levels"]["hs6"]["share"] == 0.5 and answers["levels"]["hs4"]["share"] == 0.5
    assert answers["precision"] == 1.0 and answers["none_share"] == 0.0
    # the model's own levels win over the top-k sums; a level that never reaches 95 % is NEVER_ACCEPT
    wrong_heading = {"hs4": [[("6110", 0.99)]] * 20, "hs2": [[("61", 0.9)]] * 20}
    own = model_quality_report(y_true, hs6, level_predictions=wrong_heading)
    assert own["multiclass_classification_metrics"]["accept_threshold_hs4"]["value"] == metrics.NEVER_ACCEPT
    assert own["hs_code_evaluation"]["parent_levels_from"] == "model"
    assert hierarchical_answers(["610910"], {"hs6": [[]], "hs4": [[]], "hs2": [[]]},
                                {"hs6": 0.5, "hs4": 0.5, "hs2": 0.5})["none_share"] == 1.0


def test_calibration_error_is_zero_for_probabilities_that_mean_what_they_say():
    from steps.hsml.metrics import expected_calibration_error

    y_true = ["010121"] * 4
    honest = [[("010121", 0.75)]] * 3 + [[("999999", 0.75)]]
    assert expected_calibration_error(y_true, honest) == pytest.approx(0.0)
    assert expected_calibration_error(y_true, [[("999999", 0.9)]] * 4) == pytest.approx(0.9)
