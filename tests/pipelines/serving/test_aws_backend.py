"""aws_backend: what each variant serves (SSM), and invoke_endpoint's failures as the router's answers.

The error cases go through botocore itself (a real sagemaker-runtime client against small HTTP servers on
127.0.0.1), so what is tested is botocore's parse of each error shape, not a hand-built exception.
"""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from pipelines.serving.aws_backend import DeployedVariants, SageMakerEndpointsBackend
from pipelines.serving.frontend import BackendError
from tests.pipelines.serving.aws_fixtures import REGION, EndpointsStandIn

PARAMETER = "/hs-mlops/dev/serving/deployed-variants"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ssm(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


def put(ssm, value) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=value if isinstance(value, str) else json.dumps(value), Type="String",
                      Overwrite=True)


def test_deployed_variants_are_reread_after_the_ttl_and_junk_keeps_the_last_good_value(ssm):
    clock = Clock()
    deployed = DeployedVariants(ssm, PARAMETER, ttl_seconds=10, clock=clock)
    assert deployed.read() == {} and deployed.model_version("champion") is None  # no parameter yet

    put(ssm, {"champion": {"model_version": 3, "accept_threshold": "0.7"}, "challenger": {"model_version": "4"}})
    clock.now = 10
    assert deployed.model_version("champion") == "3"
    assert deployed.thresholds(["champion", "challenger", "blue"]) == {"champion": 0.7, "challenger": None,
                                                                      "blue": None}
    put(ssm, {"champion": {"model_version": "5"}})
    clock.now = 15
    assert deployed.model_version("champion") == "3"  # within the TTL: no SSM call
    for junk in ("not json", '["a list"]', '{"champion": "not an object"}'):
        put(ssm, junk)
        clock.now += 10
        assert deployed.model_version("champion") == "3"
    put(ssm, {"champion": {"model_version": "6", "accept_threshold": "high"}})
    clock.now += 10
    assert deployed.model_version("champion") == "6"
    assert deployed.thresholds(["champion"]) == {"champion": None}  # not a number: review everything


def test_heading_and_chapter_thresholds_are_read_when_the_deploy_recorded_them(ssm):
    put(ssm, {"champion": {"model_version": "3", "accept_threshold": 0.9, "accept_threshold_hs4": "0.7",
                           "accept_threshold_hs2": 0.6}, "challenger": {"model_version": "4", "accept_threshold": 0.8}})
    deployed = DeployedVariants(ssm, PARAMETER)
    assert deployed.parent_thresholds(["champion", "challenger"]) == {
        "champion": {"hs4": 0.7, "hs2": 0.6}, "challenger": {"hs4": None, "hs2": None}}


def _runtime(url: str, **config):
    return boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=Config(**config))


def test_the_body_goes_through_as_sent_and_the_version_comes_from_ssm(ssm):
    put(ssm, {"champion": {"model_version": "12"}})
    with EndpointsStandIn({"ep-champion": ("610910", 0.9), "ep-challenger": ("080810", 0.4)}) as endpoints:
        runtime = _runtime(endpoints.url)
        backend = SageMakerEndpointsBackend({"champion": "ep-champion", "challenger": "ep-challenger"},
                                            {"champion": runtime, "challenger": runtime},
                                            DeployedVariants(ssm, PARAMETER))
        result = backend.invoke("champion", b"cotton t-shirt\n", "text/csv; charset=utf-8", "tfs-method=predict")
        challenger = backend.invoke("challenger", b'["apples"]', "application/json", None)
    sent = endpoints.requests[0]
    assert sent["body"] == b"cotton t-shirt\n" and sent["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert sent["headers"]["X-Amzn-SageMaker-Custom-Attributes"] == "tfs-method=predict"
    assert json.loads(result.body)["predictions"][0]["codes"][0] == "610910"
    assert result.model_version == "12"
    assert challenger.model_version == "ep-challenger"  # nothing recorded for it: the endpoint's name


def test_a_variant_without_an_endpoint_or_client_is_named():
    with pytest.raises(ValueError, match="no sagemaker-runtime client for variant"):
        SageMakerEndpointsBackend({"champion": "ep"}, {})
    backend = SageMakerEndpointsBackend({"champion": "ep"}, {"champion": object()})
    with pytest.raises(BackendError, match="has no endpoint configured") as raised:
        backend.invoke("blue", b"[]", "application/json", None)
    assert raised.value.status == 503


class _Scripted(BaseHTTPRequestHandler):
    """Answers every call with the server's (status, headers, body); or holds it until released."""

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.server.hold is not None:
            self.server.hold.wait(10)
            return
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _answer_with(status: int, headers: dict, body: dict | str, hold: threading.Event | None = None, **config):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    server.answer = (status, headers, body.encode() if isinstance(body, str) else json.dumps(body).encode())
    server.hold = hold
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runtime = _runtime(f"http://127.0.0.1:{server.server_port}", **config)
    return server, SageMakerEndpointsBackend({"champion": "ep"}, {"champion": runtime})


@pytest.mark.parametrize("status, headers, body, expected, says", [
    (400, {"x-amzn-ErrorType": "ThrottlingException:"}, {"message": "Rate exceeded"}, 503, "retry shortly"),
    (429, {"x-amzn-ErrorType": "ModelNotReadyException:"}, {"message": "loading"}, 503, "busy or starting"),
    (403, {"x-amzn-ErrorType": "AccessDeniedException:"}, {"message": "not authorized to sagemaker:Invoke"}, 502,
     "not authorized"),
    (415, {}, {"error": "Unsupported Media Type: application/x-protobuf"}, 415, "refused the request (415)"),
    (400, {"x-amzn-ErrorType": "ValidationError:"}, {"message": "CustomAttributes: at most 1024 characters"}, 400,
     "at most 1024 characters"),
    (500, {}, "<html>proxy error</html>", 502, "failed"),
])
def test_runtime_errors_become_the_routers_answers(status, headers, body, expected, says):
    server, backend = _answer_with(status, headers, body, retries={"max_attempts": 1})
    try:
        with pytest.raises(BackendError) as raised:
            backend.invoke("champion", b'["x"]', "application/json", None)
    finally:
        server.shutdown()
    assert raised.value.status == expected
    assert says in raised.value.message


def test_an_endpoint_that_does_not_answer_in_time_is_a_504():
    hold = threading.Event()
    server, backend = _answer_with(200, {}, {}, hold=hold, read_timeout=0.2, retries={"max_attempts": 1})
    try:
        with pytest.raises(BackendError, match="did not answer in time") as raised:
            backend.invoke("champion", b'["x"]', "application/json", None)
    finally:
        hold.set()
        server.shutdown()
    assert raised.value.status == 504


def test_an_endpoint_that_cannot_be_reached_is_a_503():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runtime = _runtime(f"http://127.0.0.1:{port}", connect_timeout=0.5, retries={"max_attempts": 1})
    backend = SageMakerEndpointsBackend({"champion": "ep"}, {"champion": runtime})
    with pytest.raises(BackendError, match="cannot be reached") as raised:
        backend.invoke("champion", b'["x"]', "application/json", None)
    assert raised.value.status == 503
