"""The evaluation step on a fake predictor (no TensorFlow): files, format, lineage, unseen labels, bad rows, CLI."""
import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from steps.hsml import evaluation as evaluate
from steps.hsml.cli_errors import UsageError

STEPS_DIR = Path(__file__).resolve().parents[2] / "steps"


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
    rows = evaluate.read_test_rows(write_test_csv(tmp_path / "test.csv"))
    descriptions, codes = rows.descriptions, rows.codes
    assert codes[-1] == "010121" and rows.problems == []
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
    with pytest.raises(UsageError, match="no column description, hs_code"):
        evaluate.read_test_rows(tmp_path / "test.csv")
    with pytest.raises(UsageError, match="nowhere not found: give the test.csv that data preparation wrote"):
        evaluate.read_test_rows(tmp_path / "nowhere")
    with pytest.raises(UsageError, match="model.tar.gz"):
        evaluate.find_model(tmp_path)


def test_a_malformed_test_row_is_left_out_with_its_own_message_and_the_rest_are_scored(tmp_path):
    (tmp_path / "test.csv").write_text("description,hs_code\nfoo,61.09\nshirt,610910\n")
    rows = evaluate.read_test_rows(tmp_path)  # the folder holding test.csv
    assert rows.codes == ["610910"] and rows.descriptions == ["shirt"]
    assert rows.problems == ["test.csv line 2: hs_code '61.09' is not a 6-digit HS code; row left out"]
    (tmp_path / "test.csv").write_text("description,hs_code\nfoo,61.09\n")
    with pytest.raises(UsageError, match="no test row to score"):
        evaluate.read_test_rows(tmp_path / "test.csv")


def test_short_codes_keep_their_leading_zero(tmp_path):
    (tmp_path / "test.csv").write_text("description,hs_code\nhorses,10121\n")
    assert evaluate.read_test_rows(tmp_path / "test.csv").codes == ["010121"]


def test_run_writes_lineage_with_the_model_archives_sha256_and_the_rows_scored(tmp_path, predictor, monkeypatch):
    from steps.hsml import predictor as predictor_module

    model = tmp_path / "model" / "model.tar.gz"
    model.parent.mkdir()
    model.write_bytes(b"not really a model, but its bytes are what the registry's checksum is of")
    test_dir = tmp_path / "prepared"
    test_dir.mkdir()
    write_test_csv(test_dir / "test.csv")
    loaded = {}
    monkeypatch.setattr(predictor_module, "load_predictor", lambda path: loaded.setdefault("path", path) and predictor)
    report = evaluate.run(model.parent, test_dir, None, tmp_path / "out", log=lambda m: None)

    assert loaded["path"] == model
    lineage = json.loads((tmp_path / "out" / "lineage.json").read_text())
    assert lineage == {"model_sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "test_rows": len(ROWS)}
    assert report["hs_code_evaluation"]["rows"] == len(ROWS) and report["hs_code_evaluation"]["rows_left_out"] == 0
    assert json.loads((tmp_path / "out" / "evaluation.json").read_text()) == report


def test_chapter_names_come_from_the_nomenclature():
    from pipelines import settings

    names = evaluate.load_chapter_names(settings.DATA_DIR)
    assert names["01"] == "Animals; live" and len(names) >= 96
    notes = []
    assert evaluate.load_chapter_names("/nonexistent", log=notes.append) == {} and "by number only" in notes[0]


def test_cli_evaluate_is_wired(monkeypatch, tmp_path):
    from pipelines.cli import build_parser

    seen = {}
    monkeypatch.setattr(evaluate, "run", lambda *a, **kw: seen.setdefault("args", a))
    args = build_parser().parse_args(["evaluate", "--model", "m.tar.gz", "--test", "t", "--out", str(tmp_path)])
    assert args.handler(args) == 0
    assert seen["args"][:2] == ("m.tar.gz", "t")


def test_cli_and_job_script_report_a_missing_model_on_stderr_with_exit_2(tmp_path, capsys):
    from pipelines.cli import main as hscode

    write_test_csv(tmp_path / "test.csv")
    assert hscode(["evaluate", "--model", str(tmp_path / "none"), "--test", str(tmp_path), "--out",
                   str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.startswith("hscode evaluate: error: ")
    job = subprocess.run([sys.executable, str(STEPS_DIR / "evaluate.py"), "--model-dir", str(tmp_path), "--test-dir",
                          str(tmp_path), "--output-dir", str(tmp_path / "out")], capture_output=True, text=True,
                         cwd=tmp_path)  # as SageMaker runs it: a script, from elsewhere
    assert job.returncode == 2 and job.stdout == ""
    assert job.stderr.startswith("evaluate.py: error: ") and "training job's output" in job.stderr
