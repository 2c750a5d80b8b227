"""`hscode serve`'s HTTP face against a real server on a free port: the container contract, the SageMaker runtime
API path through boto3, routing, capture files read with `json` only, feedback, metrics, and bad input that gets a
clear 4xx while the server keeps serving."""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from pipelines.serving import model_host
from pipelines.serving.weights import LocalWeightsStore
from tests.pipelines.serving.serve_fixtures import InProcessServe, wait_for_ping
from tests.steps.model_fixtures import small_splits

THRESHOLD = 0.3
CAPTURE_FILE = re.compile(r"^hs-code/(champion|challenger)/\d{4}/\d{2}/\d{2}/\d{2}/[^/]+\.jsonl$")


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_dir, model_tar):
    work = tmp_path_factory.mktemp("app")
    with InProcessServe("--model", str(model_dir), "--challenger", str(model_tar),
                        "--weights", "champion=0.5,challenger=0.5", "--accept-threshold", str(THRESHOLD),
                        "--capture-dir", str(work / "capture"), "--ground-truth-dir", str(work / "ground-truth"),
                        home=work / "home") as serve:
        yield serve


@pytest.fixture(scope="module")
def texts():
    return small_splits()[1]["description"].tolist()[:30]


def post(server, body, content_type="application/json", path="/invocations", headers=None):
    data = json.dumps(body) if not isinstance(body, (bytes, str)) else body
    return requests.post(server.url + path, data=data, headers={"Content-Type": content_type, **(headers or {})},
                         timeout=60)


@pytest.fixture
def runtime(server):
    return boto3.client("sagemaker-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_ping_answers_ok_with_both_variants(server):
    response = requests.get(server.url + "/ping", timeout=10)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and set(body["variants"]) == {"champion", "challenger"}
    assert all(v["loaded"] for v in body["variants"].values())


@pytest.mark.parametrize("body", [
    {"instances": ["steel screws", "cotton t-shirt"]},
    {"inputs": ["steel screws", "cotton t-shirt"]},
    ["steel screws", "cotton t-shirt"],
])
def test_json_bodies_get_one_prediction_per_row_in_order(server, body):
    response = post(server, body)
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    request_id = predictions[0]["inference_id"].split(":")[0]
    variant = response.headers["X-Amzn-Invoked-Production-Variant"]
    for i, entry in enumerate(predictions):
        assert entry["inference_id"] == f"{request_id}:{i}" and entry["variant"] == variant
        assert len(entry["codes"]) == len(entry["probabilities"]) == 10
        assert entry["probabilities"] == sorted(entry["probabilities"], reverse=True)
        assert entry["decision"] == ("accept" if entry["probabilities"][0] >= THRESHOLD else "review")
    alone = post(server, json.dumps("steel screws"), headers={"X-Amzn-SageMaker-Target-Variant": variant}).json()["predictions"]
    assert alone[0]["codes"] == predictions[0]["codes"]  # a string body is one row; batching changes nothing


def test_decisions_follow_the_threshold_on_real_descriptions(server, texts):
    predictions = post(server, {"instances": texts}).json()["predictions"]
    decisions = {entry["decision"] for entry in predictions}
    for entry in predictions:
        assert entry["decision"] == ("accept" if entry["probabilities"][0] >= THRESHOLD else "review")
    assert decisions == {"accept", "review"}  # the threshold splits these rows: both branches are exercised


def test_jsonlines_and_csv_bodies(server):
    lines = post(server, '"steel screws"\n\n{"instances": ["wooden chair", 7]}\n', "application/jsonlines")
    assert lines.status_code == 200
    rows = lines.json()["predictions"]
    assert [("error" in r) for r in rows] == [False, False, True]
    assert rows[2]["error"] == "description must be text, got int"
    csv = post(server, 'steel screws\n"wooden, chair"\n', "text/csv; charset=utf-8")
    assert csv.status_code == 200 and len(csv.json()["predictions"]) == 2


def test_bad_rows_get_their_own_error_and_the_other_rows_their_prediction(server):
    rows = ["steel screws", 42, "", "x" * 1_000_000, None, "!!!", "cotton shirt"]
    predictions = post(server, {"instances": rows}).json()["predictions"]
    assert len(predictions) == len(rows)
    errors = [entry.get("error") for entry in predictions]
    assert errors[0] is None and errors[-1] is None
    assert errors[1] == "description must be text, got int"
    assert "1,000,000 characters" in errors[3]
    assert all(errors[i] for i in (2, 4, 5))
    assert all("decision" not in predictions[i] and "inference_id" in predictions[i] for i in (1, 2, 3, 4, 5))


@pytest.mark.parametrize("content_type, body, status, message", [
    ("image/png", b"\x89PNG", 415, "Unsupported Media Type: image/png"),
    ("application/json", b"{not json", 400, "cannot read the request body as application/json"),
    ("application/json", b'{"rows": ["a"]}', 400, '"instances"'),
    ("application/jsonlines", b'"a"\n{broken\n', 400, "line 2"),
    ("application/json", b"[]", 400, "no descriptions"),
    ("application/json", json.dumps(["a"] * 10_001).encode(), 413, "10,000"),
])
def test_whole_request_errors_are_json_4xx_and_the_server_keeps_serving(server, content_type, body, status, message):
    response = post(server, body, content_type)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert post(server, ["steel screws"]).status_code == 200


def test_an_oversized_body_is_refused_with_413_from_its_length_or_while_it_streams(server):
    big = b'["' + b"x" * (7 * 1024 * 1024) + b'"]'
    response = post(server, big)
    assert response.status_code == 413 and "over the limit of 6,291,456 bytes" in response.json()["error"]

    def chunks():  # no Content-Length: chunked transfer
        for _ in range(8):
            yield b"y" * (1024 * 1024)

    streamed = requests.post(server.url + "/invocations", data=chunks(), headers={"Content-Type": "text/csv"},
                             timeout=60)
    assert streamed.status_code == 413 and "6,291,456" in streamed.json()["error"]
    assert post(server, ["steel screws"]).status_code == 200


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/nowhere", 404), ("GET", "/invocations", 405), ("DELETE", "/ping", 405),
])
def test_unknown_routes_and_methods_are_json_errors(server, method, path, status):
    response = requests.request(method, server.url + path, timeout=10)
    assert response.status_code == status
    assert "POST /invocations" in response.json()["error"]


def test_the_runtime_api_path_checks_the_endpoint_name(server):
    assert post(server, ["a"], path="/endpoints/hs-code/invocations").status_code == 200
    other = post(server, ["a"], path="/endpoints/other/invocations")
    assert other.status_code == 404 and "no endpoint named 'other'" in other.json()["error"]


def test_boto3_invoke_endpoint_with_target_variant_inference_id_and_custom_attributes(server, runtime):
    for variant in ("champion", "challenger"):
        answer = runtime.invoke_endpoint(EndpointName="hs-code", Body=json.dumps({"instances": ["steel screws"]}),
                                         ContentType="application/json", Accept="application/json",
                                         TargetVariant=variant, InferenceId=f"decl-{variant}",
                                         CustomAttributes="routing-key=broker-7")
        assert answer["InvokedProductionVariant"] == variant
        assert answer["ContentType"] == "application/json"
        (entry,) = json.loads(answer["Body"].read())["predictions"]
        assert entry["inference_id"] == f"decl-{variant}" and entry["variant"] == variant  # one row: the id itself


def test_boto3_errors_carry_the_message(server, runtime):
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="hs-code", Body=b'["a"]', ContentType="application/json",
                                TargetVariant="nope")
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError" and "no variant named 'nope'" in error["Message"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError, match="Unsupported Media Type"):
        runtime.invoke_endpoint(EndpointName="hs-code", Body=b"x", ContentType="image/png")
    with pytest.raises(ClientError, match="contains ':'"):
        runtime.invoke_endpoint(EndpointName="hs-code", Body=b'["a"]', ContentType="application/json",
                                InferenceId="a:b")


def test_routing_is_sticky_per_routing_key_and_spreads_keys_over_both_variants(server, runtime):
    chosen = {}
    for i in range(24):
        key = f"broker-{i}"
        first = post(server, ["steel screws"], headers={"X-Hscode-Routing-Key": key})
        again = runtime.invoke_endpoint(EndpointName="hs-code", Body=b'["cotton shirt"]',
                                        ContentType="application/json", CustomAttributes=f"routing-key={key}")
        assert first.headers["X-Amzn-Invoked-Production-Variant"] == again["InvokedProductionVariant"]
        chosen[key] = again["InvokedProductionVariant"]
    assert set(chosen.values()) == {"champion", "challenger"}


def test_new_weights_in_the_weights_file_apply_without_a_restart(server):
    store = LocalWeightsStore(server.endpoint.weights_file)
    store.write({"champion": 0.0, "challenger": 1.0})
    try:
        variants = {post(server, ["steel screws"]).headers["X-Amzn-Invoked-Production-Variant"] for _ in range(10)}
        assert variants == {"challenger"}
    finally:
        store.write({"champion": 0.5, "challenger": 0.5})


def test_capture_files_are_sagemaker_records_that_load_with_json_alone(server):
    response = post(server, {"instances": ["steel screws", 5]}, headers={"X-Amzn-SageMaker-Inference-Id": "cap-1"})
    variant = response.headers["X-Amzn-Invoked-Production-Variant"]
    post(server, "wooden chair\n", "text/csv")
    server.endpoint.frontend.capture.flush()
    root = server.endpoint.capture_dir
    files = sorted(p for p in root.rglob("*") if p.is_file())
    assert files and all(CAPTURE_FILE.match(p.relative_to(root).as_posix()) for p in files)
    records = [json.loads(line) for p in files for line in p.read_text(encoding="utf-8").splitlines()]
    (record,) = [r for r in records if r["eventMetadata"]["inferenceId"] == "cap-1"]
    assert f"/{variant}/" in next(p.as_posix() for p in files if "cap-1" in p.read_text())
    assert record["eventVersion"] == "0"
    request, answer = record["captureData"]["endpointInput"], record["captureData"]["endpointOutput"]
    assert (request["mode"], request["encoding"], request["observedContentType"]) == ("INPUT", "JSON",
                                                                                     "application/json")
    assert json.loads(request["data"]) == {"instances": ["steel screws", 5]}
    assert (answer["mode"], answer["encoding"]) == ("OUTPUT", "JSON")
    assert json.loads(answer["data"]) == response.json()
    model_version = record["eventMetadata"]["modelVersion"]
    assert model_version == "model" if variant == "champion" else model_version.startswith("model.tar.gz@")
    assert record["eventMetadata"]["latencyMs"] > 0
    assert any(r["captureData"]["endpointInput"]["encoding"] == "CSV" for r in records)


def test_feedback_round_trip(server):
    answer = post(server, ["steel screws"], headers={"X-Amzn-SageMaker-Inference-Id": "fb-1"}).json()
    code = answer["predictions"][0]["codes"][0]
    first = requests.post(server.url + "/feedback", json={"inference_id": "fb-1", "hs_code": code}, timeout=10)
    assert first.status_code == 200
    assert first.json()["results"][0]["status"] == "accepted"
    assert first.json()["results"][0]["unknown_inference_id"] is False
    again = requests.post(server.url + "/feedback", json=[{"inference_id": "fb-1", "hs_code": code},
                                                          {"inference_id": "never-served", "hs_code": "610910"}],
                          timeout=10).json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "accepted"]
    assert again["results"][1]["unknown_inference_id"] is True
    invalid = requests.post(server.url + "/feedback", json={"inference_id": "fb-1", "hs_code": "61.09.1"},
                            timeout=10)
    assert invalid.status_code == 400 and "error" in invalid.json()
    root = server.endpoint.ground_truth_dir
    records = [json.loads(line) for p in sorted(root.rglob("*.jsonl")) for line in p.read_text().splitlines()]
    assert {"groundTruthData": {"data": code, "encoding": "CSV"}, "eventMetadata": {"eventId": "fb-1"},
            "eventVersion": "0"} in records
    assert all(re.match(r"^\d{4}/\d{2}/\d{2}/\d{2}/", p.relative_to(root).as_posix())
               for p in root.rglob("*.jsonl"))


def test_metrics_count_requests_errors_capture_and_batching(server):
    before = requests.get(server.url + "/metrics", timeout=10).json()
    post(server, ["steel screws"])
    post(server, b"x", "image/png")
    after = requests.get(server.url + "/metrics", timeout=10).json()
    assert after["requests"] == before["requests"] + 2
    assert after["errors"].get("415", 0) == before["errors"].get("415", 0) + 1
    assert after["ready"] is True and set(after["capture"]) >= {"written", "failed", "pending"}
    calls = sum(m["model_calls"] for m in after["models"].values())
    assert calls >= sum(m["model_calls"] for m in before["models"].values()) + 1


def test_concurrent_requests_each_get_their_own_answer(server, texts):
    expected = {t: post(server, [t], headers={"X-Amzn-SageMaker-Target-Variant": "champion"}).json()
                ["predictions"][0]["codes"] for t in texts[:12]}
    answers, errors = {}, []

    def ask(text):
        try:
            response = post(server, [text], headers={"X-Amzn-SageMaker-Target-Variant": "champion"})
            answers[text] = response.json()["predictions"][0]["codes"]
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(t,)) for t in list(expected) * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and answers == expected


def test_ping_is_503_and_invocations_wait_until_the_models_are_loaded(tmp_path, model_dir, monkeypatch):
    gate = threading.Event()
    real_load = model_host.LocalBackend.load

    def held_load(backend):
        gate.wait()
        real_load(backend)

    monkeypatch.setattr(model_host.LocalBackend, "load", held_load)
    serve = InProcessServe("--model", str(model_dir), "--no-capture",
                           "--ground-truth-dir", str(tmp_path / "gt"), home=tmp_path / "home").start(wait=False)
    try:
        while True:  # the socket is bound at once; /ping answers while the models load
            try:
                loading = requests.get(serve.url + "/ping", timeout=10)
                break
            except requests.ConnectionError:
                threading.Event().wait(0.05)
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        early = post(serve, ["steel screws"])
        assert early.status_code == 503 and "still loading" in early.json()["error"]
        gate.set()
        wait_for_ping(serve.url)
        assert post(serve, ["steel screws"]).status_code == 200
        assert not list(Path(tmp_path).glob("**/capture/**/*.jsonl"))  # --no-capture
    finally:
        gate.set()
        serve.stop()
