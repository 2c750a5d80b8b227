"""The evaluation step on a fake predictor (no TensorFlow): files, format, unseen labels, CLI wiring."""
import csv
import json

import pytest

from steps import evaluate


class LookupPredictor:
    """Answers from a fixed table; anything else gets a confident wrong answer."""

    def __init__(self, answers: dict[str, list[tuple[str, float]]], labels: list[str]):
        self.answers = answers
        self.metadata = {"labels": labels}
        self.calls = 0

    def predict(self, descriptions, k=5):
        self.calls += 1
        return [self.answers.get(d, [("999999", 0.99)])[:k] for d in descriptions]


ROWS = [
    ("mens cotton t-shirt", "610910", [("610910", 0.95), ("610990", 0.03)]),
    ("womens wool jumper", "611011", [("611020", 0.55), ("611011", 0.40)]),
    ("dolly mixture 800g", "170490", [("170490", 0.80), ("180690", 0.10)]),
    ("laptop computer", "847130", [("847130", 0.92)]),
    ("unlabelled novelty", "010121", [("610910", 0.30)]),  # 010121: a code the model never saw
]


def write_test_csv(path):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["description", "text", "hs_code", "source"])
        for description, code, _ in ROWS:
            writer.writerow([description, description, code, "uk_fpo_extra_references"])
    return path


@pytest.fixture
def predictor():
    answers = {d: preds for d, _, preds in ROWS}
    return LookupPredictor(answers, labels=["610910", "610990", "611011", "611020", "170490", "180690", "847130"])


def test_evaluate_writes_sagemaker_json_and_plots(tmp_path, predictor):
    descriptions, codes = evaluate.read_test_split(write_test_csv(tmp_path / "test.csv"))
    assert codes[-1] == "010121"
    report = evaluate.evaluate_predictor(
        predictor, descriptions, codes, chapter_names={"61": "Apparel, knitted"}, log=lambda m: None
    )
    written = evaluate.write_evaluation(report, tmp_path / "out")

    saved = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    mcm = saved["multiclass_classification_metrics"]
    assert mcm["accuracy"]["value"] == pytest.approx(3 / 5)
    assert mcm["hs4_top1_accuracy"]["value"] == pytest.approx(4 / 5)  # the jumper is right at heading 6110
    assert mcm["hs6_top3_accuracy"]["value"] == pytest.approx(4 / 5)
    assert mcm["unseen_label_rate"]["value"] == pytest.approx(1 / 5)
    assert saved["hs_code_evaluation"]["unseen_labels"] == [{"hs_code": "010121", "rows": 1}]
    chapter_61 = next(r for r in saved["hs_code_evaluation"]["per_chapter"] if r["chapter"] == "61")
    assert chapter_61 == {"chapter": "61", "name": "Apparel, knitted", "rows": 2, "hs6_top1": 0.5, "hs2_top1": 1.0}
    for name in ("confusion", "per_chapter", "coverage"):
        assert written[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predictions_are_made_in_batches(predictor):
    descriptions = [d for d, _, _ in ROWS] * 3
    predictions = evaluate.predict_in_batches(predictor, descriptions, batch_size=4, log=lambda m: None)
    assert len(predictions) == 15 and predictor.calls == 4


def test_bad_test_split_says_what_is_wrong(tmp_path):
    (tmp_path / "test.csv").write_text("text,label\nfoo,1\n")
    with pytest.raises(ValueError, match="missing column"):
        evaluate.read_test_split(tmp_path / "test.csv")
    (tmp_path / "bad.csv").write_text("description,hs_code\nfoo,61.09\n")
    with pytest.raises(ValueError, match="line 2"):
        evaluate.read_test_split(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match="test.csv"):
        evaluate.find_test_csv(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="model.tar.gz"):
        evaluate.find_model(tmp_path)


def test_short_codes_keep_their_leading_zero(tmp_path):
    (tmp_path / "test.csv").write_text("description,hs_code\nhorses,10121\n")
    assert evaluate.read_test_split(tmp_path / "test.csv")[1] == ["010121"]


def test_chapter_names_come_from_the_nomenclature():
    from pipelines import settings

    names = evaluate.load_chapter_names(settings.DATA_DIR)
    assert names["01"] == "Animals; live" and len(names) >= 96
    assert evaluate.load_chapter_names("/nonexistent") == {}


def test_cli_evaluate_is_wired(monkeypatch, tmp_path):
    from pipelines.cli import build_parser

    seen = {}
    monkeypatch.setattr(evaluate, "run", lambda *a, **kw: seen.setdefault("args", a))
    args = build_parser().parse_args(["evaluate", "--model", "m.tar.gz", "--test", "t", "--out", str(tmp_path)])
    assert args.handler(args) == 0
    assert seen["args"][:2] == ("m.tar.gz", "t")
