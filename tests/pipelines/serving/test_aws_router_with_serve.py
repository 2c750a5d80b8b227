"""The Lambda router in front of two real `hscode serve` processes standing in for the two serverless endpoints.

Each process serves the small real model (its own code/inference.py hook, TF Serving emulation) under the endpoint
name the router's VARIANT_ENDPOINTS gives it; the router reaches them through VARIANT_ENDPOINT_URLS (boto3's
endpoint_url), and S3/SSM through a moto server. Slow: two TensorFlow processes start.
"""
from __future__ import annotations

import json
import os
import re
import threading

import boto3
import pytest
import requests

from pipelines.serving.aws_router import LambdaRouter, RouterConfig, aws_clients
from pipelines.serving.aws_sinks import read_capture_s3, read_ground_truth_s3
from tests.pipelines.serving.aws_fixtures import REGION
from tests.pipelines.serving.serve_fixtures import ServeProcess

pytestmark = pytest.mark.slow

BUCKET, WEIGHTS, DEPLOYED = "capture", "/hs/serving/weights", "/hs/serving/deployed-variants"
ENDPOINTS = {"champion": "hs-mlops-dev-prod-champion", "challenger": "hs-mlops-dev-prod-challenger"}


@pytest.fixture(scope="module")
def serves(model_dir, tmp_path_factory):
    """Two `hscode serve` processes, one per variant endpoint, started side by side."""
    processes = {variant: ServeProcess("--model", str(model_dir), "--endpoint-name", name, "--no-capture",
                                       home=tmp_path_factory.mktemp(f"{variant}-home"),
                                       work=tmp_path_factory.mktemp(f"{variant}-work"))
                 for variant, name in ENDPOINTS.items()}
    errors = []

    def start(process):
        try:
            process.start()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        if errors:
            raise errors[0]
        yield processes
    finally:
        for process in processes.values():
            if process.process is not None and process.process.poll() is None:
                process.stop()


@pytest.fixture
def aws(moto_endpoint, serves, monkeypatch):
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
           "AWS_ENDPOINT_URL_S3": moto_endpoint, "AWS_ENDPOINT_URL_SSM": moto_endpoint,
           "VARIANT_ENDPOINTS": json.dumps(ENDPOINTS),
           "VARIANT_ENDPOINT_URLS": json.dumps({variant: p.url for variant, p in serves.items()}),
           "WEIGHTS_PARAMETER": WEIGHTS, "DEPLOYED_VARIANTS_PARAMETER": DEPLOYED, "CAPTURE_BUCKET": BUCKET,
           "CONFIG_TTL_SECONDS": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    kwargs = {"region_name": REGION, "endpoint_url": moto_endpoint}
    s3, ssm = boto3.client("s3", **kwargs), boto3.client("ssm", **kwargs)
    s3.create_bucket(Bucket=BUCKET)
    ssm.put_parameter(Name=WEIGHTS, Value='{"champion": 0.5, "challenger": 0.5}', Type="String")
    ssm.put_parameter(Name=DEPLOYED, Type="String", Value=json.dumps({
        "champion": {"model_version": "1", "accept_threshold": 0.0},
        "challenger": {"model_version": "2", "accept_threshold": 1.5}}))  # accepts all / nothing
    return s3, ssm


@pytest.fixture
def router(aws):
    config = RouterConfig.from_environ(os.environ)
    return LambdaRouter(config, aws_clients(config))


def call(router, body, headers=None, path="/endpoints/hs-code/invocations", method="POST") -> dict:
    return router.handle({"rawPath": path, "requestContext": {"http": {"method": method}},
                          "headers": {"content-type": "application/json", **(headers or {})},
                          "body": body if isinstance(body, str) else json.dumps(body)})


def served_requests(process: ServeProcess) -> int:
    return requests.get(f"{process.url}/metrics", timeout=10).json()["requests"]


def test_weights_send_each_request_to_its_variants_own_endpoint(router, serves):
    before = {variant: served_requests(p) for variant, p in serves.items()}
    answers = [call(router, ["mens cotton t-shirt"], {"x-hscode-routing-key": f"declaration-{i}"}) for i in range(24)]
    routed = [a["headers"]["X-Amzn-Invoked-Production-Variant"] for a in answers]
    assert {a["statusCode"] for a in answers} == {200} and set(routed) == {"champion", "challenger"}
    for variant, process in serves.items():
        assert served_requests(process) - before[variant] == routed.count(variant)
    for answer, variant in zip(answers, routed):
        entry = json.loads(answer["body"])["predictions"][0]
        assert re.fullmatch(r"\d{6}", entry["codes"][0]) and entry["variant"] == variant
        assert entry["decision"] == ("accept" if variant == "champion" else "review")  # each model's threshold


def test_target_variant_reaches_the_challenger_endpoint_and_bad_rows_keep_their_place(router, serves):
    before = served_requests(serves["challenger"])
    answer = call(router, {"instances": ["stainless steel sink", "", "fresh apples"]},
                  {"x-amzn-sagemaker-target-variant": "challenger", "x-amzn-sagemaker-inference-id": "decl-1"})
    assert answer["statusCode"] == 200 and served_requests(serves["challenger"]) == before + 1
    good, bad, apples = json.loads(answer["body"])["predictions"]
    assert "error" in bad and "codes" in good and "codes" in apples
    assert [e["inference_id"] for e in (good, bad, apples)] == ["decl-1:0", "decl-1:1", "decl-1:2"]


def test_capture_and_feedback_land_in_s3_and_read_back(router, aws):
    s3, _ = aws
    answer = call(router, ["mens cotton t-shirt"], {"x-amzn-sagemaker-inference-id": "decl-2",
                                                    "x-amzn-sagemaker-target-variant": "champion"})
    code = json.loads(answer["body"])["predictions"][0]["codes"][0]
    feedback = call(router, {"inference_id": "decl-2", "hs_code": "610910"}, path="/feedback")
    assert feedback["statusCode"] == 200

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert any(re.fullmatch(r"capture/hs-code/champion/\d{4}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f]{8}\.jsonl", k)
               for k in keys), keys
    captured = next(c for c in read_capture_s3(f"s3://{BUCKET}/capture/", client=s3) if c.request_id == "decl-2")
    assert captured.variant == "champion" and captured.model_version == "1"
    assert captured.descriptions == ["mens cotton t-shirt"] and captured.predictions[0]["codes"][0] == code
    assert read_ground_truth_s3(f"s3://{BUCKET}/ground-truth/", client=s3) == {"decl-2": "610910"}


def test_a_failing_capture_bucket_does_not_fail_the_request(router, aws):
    s3, _ = aws
    s3.delete_bucket(Bucket=BUCKET)
    answer = call(router, ["mens cotton t-shirt"])
    assert answer["statusCode"] == 200
    assert json.loads(call(router, None, path="/metrics", method="GET")["body"])["capture"]["failed"] == 1


def test_the_endpoints_own_refusal_passes_through(aws, serves, monkeypatch):
    monkeypatch.setenv("VARIANT_ENDPOINTS", json.dumps({**ENDPOINTS, "challenger": "a-name-it-does-not-answer-to"}))
    config = RouterConfig.from_environ(os.environ)
    router = LambdaRouter(config, aws_clients(config))
    answer = call(router, ["mens cotton t-shirt"], {"x-amzn-sagemaker-target-variant": "challenger"})
    assert answer["statusCode"] == 404
    assert "a-name-it-does-not-answer-to" in json.loads(answer["body"])["error"]
