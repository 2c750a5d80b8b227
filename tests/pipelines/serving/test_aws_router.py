"""The Lambda router (aws_router) against a moto server (S3, SSM) and stand-in serverless endpoints.

The router is built exactly as in Lambda, from its environment: boto3 reaches moto through AWS_ENDPOINT_URL_S3 /
AWS_ENDPOINT_URL_SSM, and the two variants' endpoints through VARIANT_ENDPOINT_URLS (aws_fixtures.EndpointsStandIn;
test_aws_router_with_serve.py puts two `hscode serve` processes there instead).
"""
from __future__ import annotations

import argparse
import base64
import json
import re
from datetime import datetime, timedelta, timezone

import boto3
import pytest
import requests

from pipelines.cli import router as cli_router
from pipelines.serving import aws_router
from pipelines.serving.aws_client import router_runtime_client, signed_request
from pipelines.serving.aws_router import LambdaRouter, RouterConfig, aws_clients
from pipelines.serving.aws_sinks import iter_ground_truth_s3, read_capture_s3
from steps.hsml.cli_errors import run_command
from tests.pipelines.serving.aws_fixtures import MODEL_400, MODEL_500, REGION, EndpointsStandIn, FunctionUrl

BUCKET = "hs-mlops-dev-capture-123456789012-us-east-1"
WEIGHTS = "/hs-mlops/dev/serving/weights"
DEPLOYED = "/hs-mlops/dev/serving/deployed-variants"
CHAMPION, CHALLENGER = "hs-mlops-dev-prod-champion", "hs-mlops-dev-prod-challenger"
CAPTURE_KEY = re.compile(r"^capture/hs-code/(champion|challenger)/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"
                         r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}\.jsonl$")


@pytest.fixture(scope="module")
def endpoints():
    with EndpointsStandIn({CHAMPION: ("610910", 0.9), CHALLENGER: ("080810", 0.55)}) as stand_in:
        yield stand_in


def _env(moto_endpoint: str, endpoints_url: str, **overrides) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION, "AWS_ENDPOINT_URL_S3": moto_endpoint, "AWS_ENDPOINT_URL_SSM": moto_endpoint,
        "ENDPOINT_NAME": "hs-code",
        "VARIANT_ENDPOINTS": json.dumps({"champion": CHAMPION, "challenger": CHALLENGER}),
        "VARIANT_ENDPOINT_URLS": json.dumps({"champion": endpoints_url, "challenger": endpoints_url}),
        "WEIGHTS_PARAMETER": WEIGHTS, "DEPLOYED_VARIANTS_PARAMETER": DEPLOYED,
        "CAPTURE_BUCKET": BUCKET, "CAPTURE_PREFIX": "capture/", "GROUND_TRUTH_PREFIX": "ground-truth/",
        "CONFIG_TTL_SECONDS": "0",  # re-read SSM on every request, so a test sees its own writes at once
        **overrides,
    }


class Aws:
    def __init__(self, moto_endpoint: str):
        kwargs = {"region_name": REGION, "endpoint_url": moto_endpoint,
                  "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.s3, self.ssm = boto3.client("s3", **kwargs), boto3.client("ssm", **kwargs)

    def weights(self, weights: dict[str, float]) -> None:
        self.ssm.put_parameter(Name=WEIGHTS, Value=json.dumps(weights), Type="String", Overwrite=True)

    def deployed(self, value: dict) -> None:
        self.ssm.put_parameter(Name=DEPLOYED, Value=json.dumps(value), Type="String", Overwrite=True)

    def keys(self, prefix: str) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]

    def lines(self, key: str) -> list[dict]:
        return [json.loads(line) for line in
                self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()]


@pytest.fixture
def aws(moto_endpoint, endpoints, monkeypatch):
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    for name, value in _env(moto_endpoint, endpoints.url).items():
        monkeypatch.setenv(name, value)
    aws = Aws(moto_endpoint)
    aws.s3.create_bucket(Bucket=BUCKET)
    aws.weights({"champion": 0.5, "challenger": 0.5})
    aws.deployed({"champion": {"model_version": "7", "accept_threshold": 0.8},
                  "challenger": {"model_version": "8", "accept_threshold": 0.5}})
    endpoints.requests.clear()
    return aws


@pytest.fixture
def router(aws):
    import os

    config = RouterConfig.from_environ(os.environ)
    return LambdaRouter(config, aws_clients(config))


def event(method: str, path: str, body=None, headers: dict[str, str] | None = None, base64_body: bool = False) -> dict:
    text = body if isinstance(body, str) or body is None else json.dumps(body)
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    return {"version": "2.0", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}},
            "requestContext": {"http": {"method": method, "path": path}},
            "body": text, "isBase64Encoded": base64_body}


def invoke(router, body, headers=None, path="/endpoints/hs-code/invocations") -> dict:
    return router.handle(event("POST", path, body, headers))


def body_of(response: dict) -> dict:
    return json.loads(response["body"])


def test_ping_lists_the_variant_endpoints(router):
    response = router.handle(event("GET", "/ping"))
    assert response["statusCode"] == 200
    assert body_of(response)["variants"] == {"champion": CHAMPION, "challenger": CHALLENGER}


def test_weights_come_from_ssm_and_new_weights_apply_without_a_restart(router, aws, endpoints):
    aws.weights({"champion": 0, "challenger": 1})
    variants = {invoke(router, ["cotton t-shirt"])["headers"]["X-Amzn-Invoked-Production-Variant"] for _ in range(8)}
    assert variants == {"challenger"}
    assert {r["endpoint"] for r in endpoints.requests} == {CHALLENGER}

    aws.weights({"champion": 1, "challenger": 0})
    response = invoke(router, ["cotton t-shirt"])
    assert response["headers"]["X-Amzn-Invoked-Production-Variant"] == "champion"
    assert endpoints.requests[-1]["endpoint"] == CHAMPION


def test_a_routing_key_is_sticky_and_keys_spread_over_both_variants(router):
    def variant(key: str) -> str:
        return invoke(router, ["steel sink"], {"X-Hscode-Routing-Key": key})["headers"][
            "X-Amzn-Invoked-Production-Variant"]

    assert len({variant("declaration-42") for _ in range(6)}) == 1
    assert {variant(f"declaration-{i}") for i in range(40)} == {"champion", "challenger"}
    # boto3's CustomAttributes carries the key too (invoke_endpoint has no free-form header of its own)
    by_attribute = invoke(router, ["steel sink"], {"X-Amzn-SageMaker-Custom-Attributes": "routing-key=declaration-42"})
    assert by_attribute["headers"]["X-Amzn-Invoked-Production-Variant"] == variant("declaration-42")


def test_target_variant_overrides_the_weights_and_an_unknown_one_is_refused(router, aws):
    aws.weights({"champion": 1, "challenger": 0})
    response = invoke(router, ["fresh apples"], {"X-Amzn-SageMaker-Target-Variant": "challenger"})
    assert response["statusCode"] == 200
    assert body_of(response)["predictions"][0]["variant"] == "challenger"

    refused = invoke(router, ["fresh apples"], {"X-Amzn-SageMaker-Target-Variant": "blue"})
    assert refused["statusCode"] == 400
    assert "champion" in body_of(refused)["error"] and "challenger" in body_of(refused)["error"]


def test_answers_carry_ids_variant_and_the_deployed_models_decision(router, aws):
    aws.weights({"champion": 1, "challenger": 0})
    response = invoke(router, {"instances": ["cotton t-shirt", "", "steel sink"]},
                      {"X-Amzn-SageMaker-Inference-Id": "req-1"})
    assert response["statusCode"] == 200
    good, bad, third = body_of(response)["predictions"]
    assert good["codes"][0] == "610910" and good["decision"] == "accept"  # 0.9 >= champion's 0.8
    assert (good["inference_id"], bad["inference_id"], third["inference_id"]) == ("req-1:0", "req-1:1", "req-1:2")
    assert "error" in bad and "decision" not in bad

    challenger = invoke(router, ["cotton t-shirt"], {"X-Amzn-SageMaker-Target-Variant": "challenger"})
    assert body_of(challenger)["predictions"][0]["decision"] == "accept"  # 0.55 >= challenger's 0.5

    aws.deployed({"champion": {"model_version": "7", "accept_threshold": 0.8},
                  "challenger": {"model_version": "9", "accept_threshold": 0.6}})  # a new challenger deployed
    challenger = invoke(router, ["cotton t-shirt"], {"X-Amzn-SageMaker-Target-Variant": "challenger"})
    assert body_of(challenger)["predictions"][0]["decision"] == "review"  # 0.55 < the new model's 0.6


def test_each_request_is_captured_in_s3_in_sagemakers_format_and_layout(router, aws):
    aws.weights({"champion": 1, "challenger": 0})
    before = datetime.now(timezone.utc)
    response = invoke(router, ["cotton t-shirt", "steel sink"], {"X-Amzn-SageMaker-Inference-Id": "req-9"})
    csv_response = router.handle(event("POST", "/invocations", "fresh apples\n", {"Content-Type": "text/csv"}))
    assert csv_response["statusCode"] == 200

    keys = aws.keys("capture/")
    assert len(keys) == 2 and all(CAPTURE_KEY.match(k) for k in keys), keys
    hour = CAPTURE_KEY.match(keys[0]).groups()[1:]
    assert hour == tuple(f"{before:%Y %m %d %H}".split()) or hour == tuple(
        f"{before + timedelta(hours=1):%Y %m %d %H}".split())
    records = [line for key in keys for line in aws.lines(key)]
    record = next(r for r in records if r["eventMetadata"]["inferenceId"] == "req-9")
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"} and record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json", "mode": "INPUT",
        "data": json.dumps(["cotton t-shirt", "steel sink"]), "encoding": "JSON"}
    output = record["captureData"]["endpointOutput"]
    assert (output["observedContentType"], output["mode"], output["encoding"]) == ("application/json", "OUTPUT",
                                                                                   "JSON")
    assert json.loads(output["data"]) == body_of(response)
    metadata = record["eventMetadata"]
    assert metadata["modelVersion"] == "7" and metadata["latencyMs"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", metadata["inferenceTime"])
    csv_record = next(r for r in records if r is not record)
    assert csv_record["captureData"]["endpointInput"]["encoding"] == "CSV"

    captured = list(read_capture_s3(f"s3://{BUCKET}/capture/", client=aws.s3))
    assert sorted(c.request_id for c in captured)[1] == "req-9"
    assert next(c for c in captured if c.request_id == "req-9").descriptions == ["cotton t-shirt", "steel sink"]


def test_a_failing_capture_bucket_never_fails_the_request(router, aws, capsys):
    aws.s3.delete_bucket(Bucket=BUCKET)
    response = invoke(router, ["cotton t-shirt"])
    assert response["statusCode"] == 200
    assert body_of(response)["predictions"][0]["codes"][0] in ("610910", "080810")
    metrics = body_of(router.handle(event("GET", "/metrics")))
    assert metrics["capture"]["failed"] == 1 and metrics["capture"]["written"] == 0
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert emf[-1]["CaptureFailures"] == 1 and emf[-1]["Invocations"] == 1


def test_feedback_is_stored_in_s3_in_the_ground_truth_format(router, aws):
    served = body_of(invoke(router, ["cotton t-shirt"], {"X-Amzn-SageMaker-Inference-Id": "req-5"}))
    assert served["predictions"][0]["inference_id"] == "req-5"
    response = router.handle(event("POST", "/feedback", [{"inference_id": "req-5", "hs_code": "6109.10"},
                                                         {"inference_id": "never-served", "hs_code": "080810"}]))
    assert response["statusCode"] == 200
    results = body_of(response)["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert [r["unknown_inference_id"] for r in results] == [False, False]  # S3 cannot tell: not flagged as unknown

    keys = aws.keys("ground-truth/")
    assert len(keys) == 1 and re.fullmatch(r"ground-truth/\d{4}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f]{8}\.jsonl",
                                           keys[0])
    assert aws.lines(keys[0]) == [
        {"groundTruthData": {"data": "610910", "encoding": "CSV"}, "eventMetadata": {"eventId": "req-5"},
         "eventVersion": "0"},
        {"groundTruthData": {"data": "080810", "encoding": "CSV"}, "eventMetadata": {"eventId": "never-served"},
         "eventVersion": "0"}]
    assert list(iter_ground_truth_s3(f"s3://{BUCKET}/ground-truth/", client=aws.s3)) == [
        ("req-5", "610910"), ("never-served", "080810")]

    invalid = router.handle(event("POST", "/feedback", {"inference_id": "req-5", "hs_code": "61.09"}))
    assert invalid["statusCode"] == 400 and "did you mean" in invalid["body"]
    assert len(aws.keys("ground-truth/")) == 1


def test_feedback_that_cannot_be_stored_is_not_acknowledged(router, aws):
    aws.s3.delete_bucket(Bucket=BUCKET)
    response = router.handle(event("POST", "/feedback", {"inference_id": "req-5", "hs_code": "610910"}))
    assert response["statusCode"] >= 500 and "error" in body_of(response)  # the broker sends it again


def test_a_model_4xx_passes_through_and_a_model_5xx_is_a_502(router, aws):
    aws.weights({"champion": 1, "challenger": 0})
    refused = invoke(router, ["cotton t-shirt", MODEL_400])
    assert refused["statusCode"] == 400
    assert body_of(refused) == {"error": "the model refused row 1"}
    assert refused["headers"]["X-Amzn-Invoked-Production-Variant"] == "champion"

    failed = invoke(router, [MODEL_500])
    assert failed["statusCode"] == 502
    assert "/aws/sagemaker/Endpoints/" + CHAMPION in body_of(failed)["error"]
    assert aws.keys("capture/") == []  # an error answer is not a prediction to capture


def test_a_variant_whose_endpoint_is_not_deployed_answers_503(aws, monkeypatch):
    import os

    monkeypatch.setenv("VARIANT_ENDPOINTS", json.dumps({"champion": CHAMPION, "challenger": "not-deployed-yet"}))
    config = RouterConfig.from_environ(os.environ)
    router = LambdaRouter(config, aws_clients(config))
    response = invoke(router, ["cotton t-shirt"], {"X-Amzn-SageMaker-Target-Variant": "challenger"})
    assert response["statusCode"] == 503
    assert "not-deployed-yet not found" in body_of(response)["error"]


@pytest.mark.parametrize("request_event, status, says", [
    (event("POST", "/invocations", "x", {"Content-Type": "application/x-protobuf"}), 415, "Unsupported Media Type"),
    (event("POST", "/invocations", "{not json"), 400, "cannot read"),
    (event("POST", "/endpoints/other-endpoint/invocations", ["x"]), 404, "no endpoint named 'other-endpoint'"),
    (event("GET", "/invocations"), 405, "POST only"),
    (event("POST", "/ping"), 405, "GET only"),
    (event("GET", "/admin"), 404, "no route GET /admin"),
])
def test_bad_requests_get_a_json_4xx(router, request_event, status, says):
    response = router.handle(request_event)
    assert response["statusCode"] == status
    assert says in body_of(response)["error"]


def test_a_base64_body_is_decoded(router):
    response = router.handle(event("POST", "/invocations", ["cotton t-shirt"], base64_body=True))
    assert response["statusCode"] == 200 and len(body_of(response)["predictions"]) == 1


def test_handler_answers_503_until_it_is_configured_then_serves(aws, monkeypatch):
    monkeypatch.setattr(aws_router, "_ROUTER", None)
    monkeypatch.delenv("WEIGHTS_PARAMETER")
    response = aws_router.handler(event("GET", "/ping"), None)
    assert response["statusCode"] == 503 and "WEIGHTS_PARAMETER" in body_of(response)["error"]

    monkeypatch.setenv("WEIGHTS_PARAMETER", WEIGHTS)
    assert aws_router.handler(event("GET", "/ping"), None)["statusCode"] == 200
    assert aws_router.handler(event("POST", "/invocations", ["fresh apples"]), None)["statusCode"] == 200


@pytest.mark.parametrize("overrides, says", [
    ({"VARIANT_ENDPOINTS": "champion=x"}, "not JSON"),
    ({"VARIANT_ENDPOINTS": json.dumps({"champion": 1})}, "variant name -> string"),
    ({"VARIANT_ENDPOINT_URLS": json.dumps({"blue": "http://x"})}, "unknown: blue"),
    ({"CONFIG_TTL_SECONDS": "soon"}, "not a number"),
])
def test_a_malformed_environment_is_named(overrides, says):
    env = _env("http://moto", "http://endpoints", **overrides)
    with pytest.raises(aws_router.ConfigError, match=says):
        RouterConfig.from_environ(env)


# --- through the IAM-authorised function URL, as a client calls it ---------------------------------------------

@pytest.fixture
def function_url(router):
    with FunctionUrl(lambda request_event, context: router.handle(request_event)) as url:
        yield url


def _session(secret: str = "testing") -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key=secret, region_name=REGION)


def test_boto3_invoke_endpoint_works_unchanged_through_the_function_url(function_url, aws):
    aws.weights({"champion": 1, "challenger": 0})
    runtime = router_runtime_client(function_url.url, region=REGION, session=_session())
    response = runtime.invoke_endpoint(EndpointName="hs-code", ContentType="application/json",
                                       Body=json.dumps(["cotton t-shirt"]), TargetVariant="challenger",
                                       InferenceId="broker-7", CustomAttributes="routing-key=declaration-1")
    assert response["InvokedProductionVariant"] == "challenger"
    entry = json.loads(response["Body"].read())["predictions"][0]
    assert (entry["inference_id"], entry["variant"], entry["codes"][0]) == ("broker-7", "challenger", "080810")
    assert function_url.events[-1]["rawPath"] == "/endpoints/hs-code/invocations"


def test_an_unsigned_or_wrongly_signed_call_is_refused(function_url):
    assert requests.post(f"{function_url.url}/invocations", json=["x"], timeout=10).status_code == 403
    status, _, _ = signed_request("GET", f"{function_url.url}/ping", region=REGION, session=_session("wrong"))
    assert status == 403
    assert function_url.events == []


def test_signed_feedback_and_the_cli_call(function_url, aws, capsys, monkeypatch):
    status, _, body = signed_request("POST", f"{function_url.url}/feedback",
                                     json.dumps({"inference_id": "req-1", "hs_code": "610910"}).encode(),
                                     {"Content-Type": "application/json"}, region=REGION, session=_session())
    assert status == 200 and json.loads(body)["counts"]["accepted"] == 1

    parser = argparse.ArgumentParser()
    cli_router.register(parser.add_subparsers(dest="command"))

    def hscode(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        return run_command("hscode router call", lambda: args.handler(args))

    assert hscode("router", "call", function_url.url, "/invocations", "--data", '["fresh apples"]',
                  "--header", "X-Amzn-SageMaker-Target-Variant:champion", "--region", REGION) == 0
    out, err = capsys.readouterr()
    printed = "\n".join(line for line in out.splitlines() if not line.startswith('{"_aws"'))  # the router's EMF
    assert json.loads(printed)["predictions"][0]["codes"][0] == "610910"
    assert "HTTP 200, variant champion" in err

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert hscode("router", "call", function_url.url, "/ping", "--region", REGION) == 1
    assert "RouterInvokePolicy" in capsys.readouterr().err


def test_handler_answers_json_for_an_unreadable_body_and_for_its_own_bugs(router, monkeypatch):
    monkeypatch.setattr(aws_router, "_ROUTER", router)
    broken = {**event("POST", "/invocations", "x"), "isBase64Encoded": True, "body": "not base64!"}
    response = aws_router.handler(broken, None)
    assert response["statusCode"] == 400 and "not valid base64" in body_of(response)["error"]

    monkeypatch.setattr(router, "handle", lambda request_event: {}["a bug"])
    response = aws_router.handler(event("GET", "/ping"), None)
    assert response["statusCode"] == 500 and body_of(response) == {"error": "internal error: KeyError"}
