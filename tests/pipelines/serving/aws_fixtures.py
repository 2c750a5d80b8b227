"""Shared pieces for the AWS router tests: what AWS itself would be, on 127.0.0.1.

- `EndpointsStandIn`: SageMaker's runtime API for serverless endpoints that answer like the model's TF Serving hook
  (the same parse_descriptions and per-row check, a fixed code per endpoint), including the runtime's own error
  shapes: ModelError (HTTP 424 with the container's status and message) and ValidationError for an unknown
  endpoint. moto's sagemaker-runtime returns a fixed string, so it cannot stand in.
- `FunctionUrl`: a Lambda function URL with AuthType AWS_IAM: checks the request's SigV4 signature (service
  "lambda") and refuses it with 403 otherwise, turns it into a payload-2.0 event, calls the handler and writes its
  response back.
"""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from steps.hsml.descriptions import check_description
from steps.hsml.serving.inference import parse_descriptions

REGION = "us-east-1"
CREDENTIALS = Credentials("testing", "testing")
MODEL_400 = "__answer_400__"  # a description that makes a stand-in endpoint's model refuse the request
MODEL_500 = "__answer_500__"  # ... or fail


class _Server:
    def __init__(self, handler_class):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.server.owner = self
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _EndpointHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 (http.server's naming)
        owner: EndpointsStandIn = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = self.path.strip("/").split("/")
        name = parts[1] if len(parts) == 3 and parts[0] == "endpoints" else None
        owner.requests.append({"endpoint": name, "body": body, "headers": dict(self.headers)})
        if name not in owner.answers:
            return self._error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        rows = parse_descriptions(body, self.headers.get("Content-Type"))
        if MODEL_400 in rows or MODEL_500 in rows:
            status = 400 if MODEL_400 in rows else 500
            original = json.dumps({"error": f"the model refused row {rows.index(MODEL_400 if status == 400 else MODEL_500)}"})
            return _send(self, 424, json.dumps({
                "ErrorCode": "CLIENT_ERROR_FROM_MODEL" if status == 400 else "SERVER_ERROR_FROM_MODEL",
                "Message": f"Received error ({status}) from primary with message \"{original}\".",
                "OriginalMessage": original, "OriginalStatusCode": status,
                "LogStreamArn": f"arn:aws:logs:{REGION}:123456789012:log-group:/aws/sagemaker/Endpoints/{name}",
            }).encode(), {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError:"})
        code, probability = owner.answers[name]
        entries = []
        for row in rows:
            _, error = check_description(row)
            entries.append({"error": error} if error else {"codes": [code, "999999"],
                                                            "probabilities": [probability, 1 - probability]})
        _send(self, 200, json.dumps({"predictions": entries}).encode(), {"Content-Type": "application/json"})

    def _error(self, status: int, code: str, message: str):
        _send(self, status, json.dumps({"message": message}).encode(),
              {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:"})


class EndpointsStandIn(_Server):
    """Serverless endpoints by name -> (top code, its probability)."""

    def __init__(self, answers: dict[str, tuple[str, float]]):
        self.answers = answers
        self.requests: list[dict] = []
        super().__init__(_EndpointHandler)


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith("text/") or "json" in kind or "xml" in kind


def signature_is_valid(method: str, url: str, headers: dict[str, str], body: bytes) -> bool:
    """Recompute the request's SigV4 signature for service "lambda" with the test credentials."""
    lowered = {k.lower(): v for k, v in headers.items()}
    authorization = lowered.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or f"/{REGION}/lambda/aws4_request" not in authorization:
        return False
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
    signed = fields["SignedHeaders"].split(";")
    request = AWSRequest(method=method, url=url, data=body, headers={h: lowered[h] for h in signed if h in lowered})
    request.context["timestamp"] = lowered.get("x-amz-date", "")
    auth = SigV4Auth(CREDENTIALS, "lambda", REGION)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    return expected == fields["Signature"]


class _FunctionUrlHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _handle(self):
        owner: FunctionUrl = self.server.owner
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        url = f"http://{self.headers['Host']}{self.path}"
        if not signature_is_valid(self.command, url, dict(self.headers), body):
            return _send(self, 403, b'{"Message":"Forbidden"}', {"Content-Type": "application/json"})
        split = urlsplit(self.path)
        content_type = self.headers.get("Content-Type", "")
        text = _is_text(content_type) or not body
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": split.path, "rawQueryString": split.query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "requestContext": {"http": {"method": self.command, "path": split.path, "protocol": "HTTP/1.1",
                                        "sourceIp": "127.0.0.1", "userAgent": self.headers.get("User-Agent", "")}},
            "body": body.decode("utf-8") if text else base64.b64encode(body).decode("ascii"),
            "isBase64Encoded": not text,
        }
        owner.events.append(event)
        response = owner.handler(event, None)
        answer = response.get("body", "")
        answer = base64.b64decode(answer) if response.get("isBase64Encoded") else answer.encode("utf-8")
        _send(self, response["statusCode"], answer, response.get("headers", {}))

    do_GET = do_POST = _handle  # noqa: N815


class FunctionUrl(_Server):
    """An IAM-authorised function URL in front of `handler(event, context)`."""

    def __init__(self, handler):
        self.handler = handler
        self.events: list[dict] = []
        super().__init__(_FunctionUrlHandler)
