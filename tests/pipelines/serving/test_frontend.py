import json
import os
import re

import pytest

from pipelines.serving.capture import CapturedIds, LocalCaptureSink, read_capture
from pipelines.serving.feedback import LocalGroundTruthSink, read_ground_truth
from pipelines.serving.frontend import BackendError, InvokeResult, KnownIds, ServingFrontEnd
from pipelines.serving.routing import Router
from pipelines.serving.weights import LocalWeightsStore
from steps.hsml.descriptions import check_description
from tests.pipelines.serving.frontend_fixtures import ScriptedBackend, normalizer

JSON = "application/json"
THRESHOLDS = {"champion": 0.5, "challenger": None}


@pytest.fixture
def make(tmp_path):
    made = []

    def build(backend=None, weights=None, capture_root=None, **options):
        frontend = ServingFrontEnd(
            "hs-code", weights or Router({"champion": 1.0, "challenger": 0.0}), backend or ScriptedBackend(),
            LocalCaptureSink(capture_root or tmp_path / "capture", flush_interval_s=None),
            LocalGroundTruthSink(tmp_path / "truth"), THRESHOLDS, normalizer(), **options)
        made.append(frontend)
        return frontend

    yield build
    for frontend in made:
        frontend.close()


def _invoke(frontend, rows, content_type=JSON, **headers):
    body = rows if isinstance(rows, bytes) else json.dumps(rows).encode()
    return frontend.invoke(body, content_type, headers)


def test_good_request_entries_ids_variant_and_decision(make):
    backend = ScriptedBackend(probabilities={"champion": 0.7, "challenger": 0.99})
    frontend = make(backend)
    response = _invoke(frontend, ["mens cotton t-shirt", "", "stainless steel sink"],
                       **{"X-Amzn-SageMaker-Inference-Id": "req-1"})
    assert response.status == 200
    assert response.headers == {"Content-Type": JSON, "X-Amzn-Invoked-Production-Variant": "champion"}
    first, bad, third = response.json["predictions"]
    assert first == {"codes": ["610910", "610990"], "probabilities": [0.7, pytest.approx(0.3)],
                     "inference_id": "req-1:0", "variant": "champion", "decision": "accept",
                     "answer": {"level": "hs6", "code": "610910", "probability": 0.7,
                                "reason": "subheading 610910 at 0.70 >= 0.50"},
                     "answer_set": ["610910", "610990"], "answer_set_probability": pytest.approx(1.0)}
    assert bad == {"error": check_description("")[1], "inference_id": "req-1:1", "variant": "champion"}
    assert third["inference_id"] == "req-1:2"
    # the challenger has no threshold: every answer goes to review, however sure
    target = _invoke(frontend, ["mens cotton t-shirt"], **{"X-Amzn-SageMaker-Target-Variant": "challenger"})
    entry = target.json["predictions"][0]
    assert (entry["variant"], entry["probabilities"][0], entry["decision"]) == ("challenger", 0.99, "review")
    assert target.headers["X-Amzn-Invoked-Production-Variant"] == "challenger"


def test_one_row_takes_the_request_id_and_a_missing_id_is_generated(make):
    frontend = make()
    given = _invoke(frontend, "mens cotton t-shirt", **{"X-Amzn-SageMaker-Inference-Id": "decl-7"})
    assert given.json["predictions"][0]["inference_id"] == "decl-7"
    generated = _invoke(frontend, ["a shirt"]).json["predictions"][0]["inference_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_the_backend_gets_the_body_and_headers_as_sent(make):
    backend = ScriptedBackend()
    frontend = make(backend)
    body = b"mens cotton t-shirt\nstainless steel sink\n"
    response = frontend.invoke(body, "text/csv; charset=utf-8",
                               {"X-Amzn-SageMaker-Custom-Attributes": "tfs-method=predict"})
    assert response.status == 200 and len(response.json["predictions"]) == 2
    assert backend.calls == [("champion", body, "text/csv; charset=utf-8", "tfs-method=predict")]


def test_routing_key_header_is_sticky(make):
    frontend = make(weights=Router({"champion": 0.5, "challenger": 0.5}))
    for key in ("broker-1", "broker-2", "broker-3", "broker-4"):
        variants = {_invoke(frontend, ["shirt"], **{"X-Hscode-Routing-Key": key}).json["predictions"][0]["variant"]
                    for _ in range(5)}
        assert len(variants) == 1


@pytest.mark.parametrize("body, content_type, headers, status, says", [
    (b'["a"]', "text/plain", {}, 415, "Unsupported Media Type: text/plain"),
    (b'["a"]', "application/x-www-form-urlencoded", {}, 415, "send application/json"),
    (b'{"instances": ["a"', JSON, {}, 400, "cannot read the request body as application/json"),
    (b'{"rows": ["a"]}', JSON, {}, 400, "must hold"),
    (b"\xff\xfe", JSON, {}, 400, "cannot read"),
    (b"[]", JSON, {}, 400, "no descriptions"),
    (b'["a"]', JSON, {"X-Amzn-SageMaker-Target-Variant": "shadow"}, 400, "no variant named 'shadow'.*challenger"),
    (b'["a"]', JSON, {"X-Amzn-SageMaker-Inference-Id": "a:1"}, 400, "contains ':'"),
    (b'["a"]', JSON, {"X-Amzn-SageMaker-Inference-Id": "x" * 65}, 400, "1 to 64 printable"),
])
def test_whole_request_errors(make, body, content_type, headers, status, says):
    backend = ScriptedBackend()
    frontend = make(backend)
    response = frontend.invoke(body, content_type, headers)
    assert response.status == status
    assert set(response.json) == {"error"} and re.search(says, response.json["error"])
    assert backend.calls == []
    assert _invoke(frontend, ["still serving"]).status == 200


def test_size_limits_by_bytes_and_by_rows(make):
    frontend = make(max_body_bytes=1_000, max_rows=5)
    too_big = _invoke(frontend, ["x" * 1_000])
    assert too_big.status == 413 and "over the limit of 1,000 bytes" in too_big.json["error"]
    too_many = _invoke(frontend, ["a"] * 6)
    assert too_many.status == 413 and "6 descriptions, over the limit of 5" in too_many.json["error"]
    assert _invoke(frontend, ["a"] * 5).status == 200


def test_default_limits_refuse_100k_rows(make):
    response = _invoke(make(), ["a"] * 100_000)
    assert response.status == 413 and "10,000" in response.json["error"]


def test_wrong_endpoint_name_is_404(make):
    frontend = make()
    response = frontend.invoke(b'["a"]', JSON, {}, endpoint_name="other")
    assert response.status == 404 and response.json == {"error": "no endpoint named 'other': this server is 'hs-code'"}
    assert frontend.invoke(b'["a"]', JSON, {}, endpoint_name="hs-code").status == 200


def test_a_backend_bug_is_500_without_a_traceback(make, caplog):
    frontend = make(ScriptedBackend(fail_with=ZeroDivisionError("secret detail")))
    response = _invoke(frontend, ["a"])
    assert response.status == 500 and response.json == {"error": "internal error: ZeroDivisionError"}
    assert "Traceback" in caplog.text and "secret detail" in caplog.text  # logged, never sent


def test_a_model_error_keeps_its_status(make):
    frontend = make(ScriptedBackend(fail_with=BackendError(503, "model champion is still loading")))
    response = _invoke(frontend, ["a"])
    assert (response.status, response.json) == (503, {"error": "model champion is still loading"})
    assert response.headers["X-Amzn-Invoked-Production-Variant"] == "champion"


class WrongCountBackend:
    def invoke(self, variant, body, content_type, custom_attributes):
        return InvokeResult(b'{"predictions": []}', JSON, "1")


def test_a_backend_answer_that_does_not_fit_is_502(make):
    response = _invoke(make(WrongCountBackend()), ["a"])
    assert response.status == 502 and "0 predictions for 1 descriptions" in response.json["error"]


def test_capture_failure_never_fails_the_request_and_is_counted(make, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the capture folder should be")
    frontend = make(capture_root=blocker)
    assert _invoke(frontend, ["a"]).status == 200
    frontend.capture.flush()
    assert _invoke(frontend, ["b"]).status == 200
    stats = frontend.stats()
    assert stats["capture"]["failed"] == 1 and stats["capture"]["pending"] == 1


def test_captured_requests_read_back(make, tmp_path):
    frontend = make()
    _invoke(frontend, ["mens cotton t-shirt", 5], **{"X-Amzn-SageMaker-Inference-Id": "r1"})
    frontend.close()
    (captured,) = read_capture(tmp_path / "capture")
    assert (captured.endpoint, captured.variant, captured.request_id, captured.model_version) == \
        ("hs-code", "champion", "r1", "champion-v1")
    assert captured.descriptions == ["mens cotton t-shirt", 5]
    assert [p["inference_id"] for p in captured.predictions] == ["r1:0", "r1:1"]
    assert captured.latency_ms >= 0


def test_new_weights_apply_without_a_restart(make, tmp_path):
    store = LocalWeightsStore(tmp_path / "weights.json")
    store.write({"champion": 1, "challenger": 0})
    frontend = make(weights=store)
    keys = [f"k{i}" for i in range(20)]

    def variants():
        return {_invoke(frontend, ["a"], **{"X-Hscode-Routing-Key": k}).json["predictions"][0]["variant"]
                for k in keys}

    assert variants() == {"champion"}
    store.write({"champion": 0, "challenger": 1})
    os.utime(store.path, ns=(0, store.path.stat().st_mtime_ns + 10**9))
    assert variants() == {"challenger"}
    store.write({"champion": 1, "shadow": 1})  # a variant this endpoint does not serve: refused, old kept
    os.utime(store.path, ns=(0, store.path.stat().st_mtime_ns + 2 * 10**9))
    assert variants() == {"challenger"}
    assert frontend.stats()["weights"] == {"challenger": 1.0, "champion": 0.0}


def test_feedback_round_trip(make, tmp_path):
    frontend = make(known_ids=KnownIds(fallback=CapturedIds(tmp_path / "capture", rescan_s=0)))
    ids = [p["inference_id"] for p in _invoke(frontend, ["shirt", "sink"]).json["predictions"]]
    response = frontend.feedback(json.dumps([{"inference_id": ids[0], "hs_code": "6109.10"},
                                             {"inference_id": ids[1], "hs_code": "732411"},
                                             {"inference_id": "never-issued", "hs_code": "610910"}]).encode())
    assert response.status == 200
    results = response.json["results"]
    assert [(r["status"], r["unknown_inference_id"]) for r in results] == [("accepted", False), ("invalid", False),
                                                                         ("accepted", True)]
    assert "did you mean" in results[1]["message"]
    assert read_ground_truth(tmp_path / "truth") == {ids[0]: "610910", "never-issued": "610910"}  # stored at once
    again = frontend.feedback(json.dumps({"inference_id": ids[0], "hs_code": "610910"}).encode())
    assert again.status == 200 and again.json["results"][0]["status"] == "duplicate"
    corrected = frontend.feedback(json.dumps({"inference_id": ids[0], "hs_code": "610990"}).encode())
    assert corrected.json["results"][0]["correction"] is True
    assert frontend.stats()["feedback"]["accepted"] == 3
    assert frontend.stats()["feedback"]["unknown_inference_id"] == 1


@pytest.mark.parametrize("body, status, says", [
    (b'{"inference_id": "a", "hs_code": "6109"}', 400, "no feedback recorded"),
    (b"[]", 400, "no feedback given"),
    (b"{oops", 400, "feedback must be JSON"),
])
def test_feedback_refused(make, body, status, says):
    response = make().feedback(body)
    assert response.status == status and says in response.json["error"]


def test_stats_count_requests_rows_errors_and_variants(make):
    frontend = make()
    _invoke(frontend, ["a", "b"])
    _invoke(frontend, ["a"], **{"X-Amzn-SageMaker-Target-Variant": "challenger"})
    frontend.invoke(b"{", JSON, {})
    frontend.invoke(b"a", "text/plain", {})
    stats = frontend.stats()
    assert (stats["requests"], stats["rows"], stats["errors"]) == (4, 3, {"400": 1, "415": 1})
    assert stats["variants"]["champion"]["rows"] == 2 and stats["variants"]["challenger"]["requests"] == 1
    frontend.close()
    assert frontend.stats()["capture"] == {"written": 2, "failed": 0, "pending": 0}


def test_feedback_that_cannot_be_stored_is_503_and_not_recorded(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the ground-truth folder should be")
    frontend = ServingFrontEnd("hs-code", Router({"champion": 1}), ScriptedBackend(),
                               LocalCaptureSink(tmp_path / "capture", flush_interval_s=None),
                               LocalGroundTruthSink(blocker), {"champion": 0.5}, normalizer())
    response = frontend.feedback(b'{"inference_id": "a", "hs_code": "610910"}')
    assert response.status == 503 and "nothing was recorded; send it again" in response.json["error"]
    blocker.unlink()
    retried = frontend.feedback(b'{"inference_id": "b", "hs_code": "610910"}')
    assert retried.status == 200
    assert read_ground_truth(blocker) == {"b": "610910"}  # the failed one was not kept back and stored later
    frontend.close()


def test_empty_routing_headers_count_as_absent(make):
    frontend = make()
    response = _invoke(frontend, ["a"], **{"X-Amzn-SageMaker-Target-Variant": "",
                                           "X-Amzn-SageMaker-Inference-Id": ""})
    assert response.status == 200 and response.headers["X-Amzn-Invoked-Production-Variant"] == "champion"


class OddProbabilitiesBackend:
    def invoke(self, variant, body, content_type, custom_attributes):
        entries = [{"codes": ["610910"], "probabilities": ["high"]}, {"codes": [], "probabilities": []}]
        return InvokeResult(json.dumps({"predictions": entries}).encode(), JSON, "1")


def test_an_answer_without_a_usable_probability_goes_to_review(make):
    response = _invoke(make(OddProbabilitiesBackend()), ["a", "b"])
    assert [e["decision"] for e in response.json["predictions"]] == ["review", "review"]


def test_the_shared_modules_import_nothing_the_lambda_does_not_ship():
    import subprocess
    import sys

    code = ("import sys\n"
            "import pipelines.serving.frontend, pipelines.serving.weights, pipelines.serving.routing\n"
            "import pipelines.serving.capture, pipelines.serving.feedback\n"
            "heavy = ('fastapi', 'starlette', 'uvicorn', 'tensorflow', 'numpy', 'pandas', 'sagemaker', 'requests')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


class LevelsBackend(ScriptedBackend):
    """Answers every row with HS6, HS4 and HS2 levels; rows holding "gift" are flagged vague, as the hook does."""

    def invoke(self, variant, body, content_type, custom_attributes):
        from steps.hsml.serving.inference import parse_descriptions

        self.calls.append((variant, body, content_type, custom_attributes))
        entries = [{"codes": ["610910", "610990"], "probabilities": [0.45, 0.4],
                    "hs4_codes": ["6109", "6205"], "hs4_probabilities": [0.95, 0.05],
                    "hs2_codes": ["61", "62"], "hs2_probabilities": [0.95, 0.05],
                    "vague": "gift" in row, "vague_score": 0.9 if "gift" in row else 0.1,
                    "explanation": [{"code": "610910", "score": 0.45, "tokens": []}]}
                   for row in parse_descriptions(body, content_type)]
        return InvokeResult(json.dumps({"predictions": entries}).encode(), JSON, f"{variant}-v1")


def test_hs_texts_read_the_nomenclature_once_and_hold_every_level(monkeypatch):
    import csv
    import pathlib

    from pipelines.serving.frontend import load_hs_texts
    from pipelines.settings import HS2022_NOMENCLATURE

    with HS2022_NOMENCLATURE.open(encoding="utf-8-sig", newline="") as handle:
        expected = {row["hscode"]: row["description"] for row in csv.DictReader(handle)
                    if row["level"] in ("2", "4", "6")}
    opened = []
    real_open = pathlib.Path.open
    monkeypatch.setattr(pathlib.Path, "open", lambda self, *a, **k: opened.append(self) or real_open(self, *a, **k))
    texts = load_hs_texts(HS2022_NOMENCLATURE)
    assert opened == [HS2022_NOMENCLATURE]  # serving start-up: one pass, not one per level
    assert texts == expected and len(texts) == 97 + 1229 + 5613
    assert texts["61"].lower().startswith("apparel") and texts["6109"].lower().startswith("t-shirts")


def test_the_answer_falls_back_to_the_heading_and_a_vague_row_is_too_vague(make):
    from pipelines.serving.frontend import load_hs_texts
    from pipelines.settings import HS2022_NOMENCLATURE

    frontend = make(LevelsBackend(), parent_thresholds={"champion": {"hs4": 0.9, "hs2": 0.9}},
                    hs_texts=load_hs_texts(HS2022_NOMENCLATURE))
    sure, vague = _invoke(frontend, ["mens cotton t-shirt", "a gift"]).json["predictions"]
    assert sure["decision"] == "review" and sure["codes"] == ["610910", "610990"]  # existing fields as they were
    assert (sure["answer"]["level"], sure["answer"]["code"]) == ("hs4", "6109")
    assert sure["answer"]["hs_text"].lower().startswith("t-shirts")
    assert sure["answer_set"] == ["610910", "610990"] and sure["answer_set_probability"] == pytest.approx(0.85)
    assert "of cotton" in sure["explanation"][0]["hs_text"]
    assert vague["decision"] == "review"
    assert vague["answer"] == {"level": "none", "code": None, "probability": None, "reason": "too vague to classify"}
    # without heading/chapter thresholds (a model registered before them) nothing is sure: as before, review
    plain = make(LevelsBackend())
    assert _invoke(plain, ["mens cotton t-shirt"]).json["predictions"][0]["answer"]["level"] == "none"


def test_explanations_for_too_many_rows_are_refused_before_the_model_runs(make):
    backend = ScriptedBackend()
    frontend = make(backend)
    response = _invoke(frontend, {"instances": ["steel screws"] * 101, "explain": True})
    assert response.status == 413 and "at most 100 descriptions" in response.json["error"]
    assert backend.calls == []
    assert _invoke(frontend, {"instances": ["steel screws"] * 101}).status == 200  # without explain: as before
