"""Occlusion explanations (steps/hsml/explain.py): with a known scorer, and on a real exported model."""
from __future__ import annotations

import pytest

from steps.hsml.explain import explain, occlusion_requests, occlusions
from steps.hsml.predictor import load_predictor
from tests.steps.model_fixtures import small_splits, trained_model_dir


def test_occlusions_drop_each_distinct_word_everywhere():
    assert occlusions("red wine red") == [("red", "wine"), ("wine", "red red")]
    variants, codes = occlusion_requests(["a b"], [["x", "y"]])
    assert variants == ["a b", "b", "a"] * 2 and codes == ["x"] * 3 + ["y"] * 3


def test_weights_are_the_score_drop_when_a_word_is_removed_all_in_one_call():
    calls = []
    word_value = {"wine": 0.6, "red": 0.2, "bottle": -0.1}

    def score(texts, codes):
        calls.append(len(texts))
        return [0.1 + sum(word_value.get(w, 0) for w in t.split()) * (1 if c == "220421" else 0.5)
                for t, c in zip(texts, codes)]

    [[first, second]] = explain(["red wine bottle"], [["220421", "220410"]], score, top_tokens=2)
    assert calls == [8]  # (1 text + 3 occlusions) x 2 codes, one call
    assert first["code"] == "220421" and first["score"] == pytest.approx(0.8)
    assert [t["token"] for t in first["tokens"]] == ["wine", "red"]
    assert first["tokens"][0]["weight"] == pytest.approx(0.6)
    assert second["tokens"][0]["weight"] == pytest.approx(0.3)
    assert explain([], [], score) == []
    # a one-word text: its only occlusion is empty, never sent to the model, and scores 0
    calls.clear()
    [[alone]] = explain(["wine"], [["220421"]], score)
    assert calls == [1] and alone["tokens"] == [{"token": "wine", "weight": pytest.approx(0.7)}]


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return load_predictor(trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))[0])


def test_removing_the_top_weighted_token_lowers_that_codes_score_on_a_real_model(predictor):
    texts = small_splits()[1]["text"].tolist()[:20]
    texts = [t for t in texts if len(t.split()) >= 2][:8]
    rows = predictor.predict_detailed(texts, k=3, explain=True)
    checked = 0
    for text, row in zip(texts, rows):
        top = row.explanation[0]
        assert top["code"] == row.top_k[0][0]
        assert top["score"] == pytest.approx(row.top_k[0][1], rel=1e-4, abs=1e-6)
        best = top["tokens"][0]
        if best["weight"] <= 0:
            continue  # no word pulls towards the code (rare): nothing to check for this row
        without = " ".join(w for w in text.split() if w != best["token"])
        assert predictor.score_codes([without], [top["code"]])[0] < top["score"]
        checked += 1
    assert checked >= len(texts) // 2
