"""Evaluation of a real exported model: the model's own HS4/HS2 levels, the level plot and the vague detector's
false refusals and held-out recall in evaluation.json."""
from __future__ import annotations

import json
import shutil

import pytest

from pipelines.settings import DATA_DIR
from steps.hsml import evaluation
from steps.hsml.export import write_vagueness
from steps.hsml.predictor import load_predictor
from steps.hsml.vagueness import FORMAT
from steps.hsml.vagueness_training import read_vague_terms
from tests.steps.model_fixtures import small_splits, trained_model_dir

DETECTOR = {"format": FORMAT, "intercept": -4.0, "threshold": 0.5, "info": {},
            "features": {"w:gift": [1.0, 12.0], "w:merchandise": [1.0, 12.0]}}


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    source = trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))[0]
    target = tmp_path_factory.mktemp("levels") / "model"
    shutil.copytree(source, target)
    write_vagueness(DETECTOR, target)
    return load_predictor(target)


def test_a_real_model_is_scored_with_its_own_levels_and_its_vague_detector(predictor, tmp_path):
    validation = small_splits()[1]
    descriptions, codes = validation["description"].tolist() + ["gift"], validation["hs_code"].tolist() + ["950300"]
    report = evaluation.evaluate_predictor(predictor, descriptions, codes, log=lambda line: None,
                                           vague_terms=read_vague_terms(DATA_DIR / "hmrc_vague_terms.csv"))
    m, d = report["multiclass_classification_metrics"], report["hs_code_evaluation"]
    assert d["parent_levels_from"] == "model"
    for key in ("accept_threshold", "accept_threshold_hs4", "accept_threshold_hs2", "accept_coverage_hs4"):
        assert key in m
    vagueness = d["vagueness"]
    assert vagueness["false_refusal_rate"] == pytest.approx(1 / len(descriptions))  # the one "gift" row
    assert 800 < vagueness["held_out_vague_terms"] < 900  # the fifth never trained on
    assert 0 < vagueness["recall_held_out"] < 0.5  # the hand-made detector knows two words
    assert m["vague_false_refusal_rate"]["value"] == vagueness["false_refusal_rate"]
    written = evaluation.write_evaluation(report, tmp_path)
    assert written["level_coverage"].stat().st_size > 0
    assert json.loads(written["evaluation"].read_text())["hs_code_evaluation"]["level_operating_points"]
    assert any("HS4 precision" in line for line in evaluation.summary_lines(report))
