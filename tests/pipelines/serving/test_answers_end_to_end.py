"""The served answer on a real exported model: parent levels, the vague detector and explanations through the
model's own hook and the TF Serving emulation, then the predictor's answer for the same rows."""
from __future__ import annotations

import json
import shutil

import pytest

from pipelines.serving.model_host import LoadedModel, ModelSource
from steps.hsml.export import write_vagueness
from steps.hsml.predictor import load_predictor
from steps.hsml.vagueness import FORMAT

# A hand-made detector: "gift" alone is vague, a product description is not.
DETECTOR = {"format": FORMAT, "intercept": -4.0, "threshold": 0.5, "info": {},
            "features": {"w:gift": [1.0, 12.0], "n:1": [1.0, 1.0]}}


@pytest.fixture(scope="module")
def vague_model_dir(model_dir, tmp_path_factory):
    target = tmp_path_factory.mktemp("vague") / "model"
    shutil.copytree(model_dir, target)
    write_vagueness(DETECTOR, target)
    return target


@pytest.fixture(scope="module")
def served(vague_model_dir):
    model = LoadedModel("champion", ModelSource(str(vague_model_dir), vague_model_dir, "v", None), vague_model_dir,
                        max_batch=64, max_wait_s=0)
    yield model
    model.close()


def test_the_hook_answers_parent_levels_vagueness_and_explanations_on_request(served, vague_model_dir):
    body = json.dumps({"instances": ["gift", "mens cotton t-shirt", ""], "explain": True}).encode()
    vague, product, bad = json.loads(served.invoke(body, "application/json", None).body)["predictions"]
    assert bad == {"error": bad["error"]}
    assert vague["vague"] is True and product["vague"] is False
    for entry in (vague, product):
        assert len(entry["hs4_codes"]) == len(entry["hs4_probabilities"]) and len(entry["hs2_codes"]) >= 1
        assert entry["hs4_codes"][0] == entry["codes"][0][:4] or entry["hs4_probabilities"][0] >= entry["probabilities"][0]
        explained = entry["explanation"]
        assert [e["code"] for e in explained] == entry["codes"][:3]
        assert explained[0]["score"] == pytest.approx(entry["probabilities"][0], rel=1e-4, abs=1e-6)
    assert {t["token"] for t in product["explanation"][0]["tokens"]} <= {"mens", "cotton", "t", "shirt"}
    plain = json.loads(served.invoke(b'["mens cotton t-shirt"]', "application/json", None).body)["predictions"][0]
    assert "explanation" not in plain and plain["codes"] == product["codes"]
    csv = json.loads(served.invoke(b"mens cotton t-shirt\n", "text/csv", "explain=true").body)["predictions"][0]
    assert csv["explanation"] == product["explanation"]

    predictor = load_predictor(vague_model_dir)
    rows = predictor.predict_detailed(["gift", "mens cotton t-shirt"], k=10, explain=True,
                                      thresholds={"hs6": 1.01, "hs4": 0.0, "hs2": 0.0})
    assert rows[0].vague and rows[0].answer["answer"]["reason"] == "too vague to classify"
    assert rows[1].answer["answer"]["level"] == "hs4" and rows[1].answer["answer"]["code"] == product["hs4_codes"][0]
    assert rows[1].levels["hs2"][0][0] == product["hs2_codes"][0]
    assert rows[1].explanation == product["explanation"]
