"""The champion/challenger router on AWS: a Lambda function behind an IAM-authorised function URL.

Serverless endpoints support neither production variants nor data capture, so this function does what a
real-time endpoint would: it picks a variant by weight (sticky per routing key, TargetVariant wins), calls that
variant's serverless endpoint, and captures the request/response pair and broker feedback to S3. The request path
is the local server's (frontend.ServingFrontEnd); only the back end (aws_backend), the sinks (aws_sinks) and the
weights store (weights.SsmWeightsStore) are AWS's.

Routes (function URL payload 2.0 in, function URL response out):
    GET  /ping                                 200 once configured
    POST /invocations                          the container contract
    POST /endpoints/{EndpointName}/invocations the SageMaker runtime API path (boto3 invoke_endpoint)
    POST /feedback                             broker feedback, stored as ground truth
    GET  /metrics                              this execution environment's counters

Configuration (environment, set by infra/serving.yml): VARIANT_ENDPOINTS (JSON variant -> endpoint name),
WEIGHTS_PARAMETER and DEPLOYED_VARIANTS_PARAMETER (SSM names), CAPTURE_BUCKET, CAPTURE_PREFIX,
GROUND_TRUTH_PREFIX, ENDPOINT_NAME; optional CONFIG_TTL_SECONDS, HS_NOMENCLATURE, and VARIANT_ENDPOINT_URLS
(JSON variant -> endpoint URL, to front SageMaker-compatible servers such as `hscode serve`).

stdlib + boto3 only (boto3 comes with the Lambda runtime); packaged by `hscode router package`.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from pipelines.serving.aws_backend import DeployedVariants, SageMakerEndpointsBackend
from pipelines.serving.aws_sinks import S3CaptureSink, S3GroundTruthSink
from pipelines.serving.frontend import INVOKED_VARIANT_HEADER, FrontEndResponse, ServingFrontEnd, load_hs_texts
from pipelines.serving.weights import SsmWeightsStore
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the zip's root (the repository root in a checkout)
DEFAULT_NOMENCLATURE = PACKAGE_ROOT / "data" / "hs2022_nomenclature.csv"
METRICS_NAMESPACE = "HSMLOps/Serving"
JSON_HEADERS = {"Content-Type": "application/json"}


class ConfigError(Exception):
    """The function's environment is incomplete or malformed (a deployment problem, answered 503)."""


@dataclass(frozen=True)
class RouterConfig:
    endpoint_name: str
    variant_endpoints: dict[str, str]
    weights_parameter: str
    deployed_variants_parameter: str | None
    capture_bucket: str
    capture_prefix: str
    ground_truth_bucket: str
    ground_truth_prefix: str
    config_ttl_seconds: float
    nomenclature: Path
    variant_endpoint_urls: dict[str, str]

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> RouterConfig:
        missing = [name for name in ("VARIANT_ENDPOINTS", "WEIGHTS_PARAMETER", "CAPTURE_BUCKET") if not env.get(name)]
        if missing:
            raise ConfigError(f"environment variable(s) {', '.join(missing)} not set (infra/serving.yml sets them)")
        endpoints = _json_object(env, "VARIANT_ENDPOINTS")
        urls = _json_object(env, "VARIANT_ENDPOINT_URLS") if env.get("VARIANT_ENDPOINT_URLS") else {}
        unknown = sorted(set(urls) - set(endpoints))
        if not endpoints or unknown:
            raise ConfigError("VARIANT_ENDPOINTS must name at least one variant, and VARIANT_ENDPOINT_URLS only "
                              f"those (unknown: {', '.join(unknown) or 'none'})")
        try:
            ttl = float(env.get("CONFIG_TTL_SECONDS", "10"))
        except ValueError:
            raise ConfigError(f"CONFIG_TTL_SECONDS={env['CONFIG_TTL_SECONDS']!r} is not a number") from None
        return cls(
            endpoint_name=env.get("ENDPOINT_NAME") or "hs-code",
            variant_endpoints=endpoints,
            weights_parameter=env["WEIGHTS_PARAMETER"],
            deployed_variants_parameter=env.get("DEPLOYED_VARIANTS_PARAMETER") or None,
            capture_bucket=env["CAPTURE_BUCKET"],
            capture_prefix=env.get("CAPTURE_PREFIX", "capture/"),
            ground_truth_bucket=env.get("GROUND_TRUTH_BUCKET") or env["CAPTURE_BUCKET"],
            ground_truth_prefix=env.get("GROUND_TRUTH_PREFIX", "ground-truth/"),
            config_ttl_seconds=ttl,
            nomenclature=Path(env.get("HS_NOMENCLATURE") or DEFAULT_NOMENCLATURE),
            variant_endpoint_urls=urls,
        )


def _json_object(env: Mapping[str, str], name: str) -> dict[str, str]:
    try:
        value = json.loads(env[name])
    except ValueError as error:
        raise ConfigError(f"{name} is not JSON ({error}): expected e.g. "
                          '{"champion": "hs-mlops-dev-prod-champion", "challenger": "hs-mlops-dev-prod-challenger"}'
                          ) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{name} must be a JSON object of variant name -> string")
    return value


def aws_clients(config: RouterConfig, session=None) -> dict:
    """Clients made once per cold start. Short timeouts for S3 and SSM: a slow store must not hold up answers."""
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    store = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    runtime = Config(connect_timeout=5, read_timeout=70, retries={"max_attempts": 2, "mode": "standard"})
    default_runtime = session.client("sagemaker-runtime", config=runtime)
    by_url = {url: session.client("sagemaker-runtime", config=runtime, endpoint_url=url)
              for url in set(config.variant_endpoint_urls.values())}
    return {
        "s3": session.client("s3", config=store),
        "ssm": session.client("ssm", config=store),
        "runtime": {variant: by_url[config.variant_endpoint_urls[variant]]
                    if variant in config.variant_endpoint_urls else default_runtime
                    for variant in config.variant_endpoints},
    }


class LambdaRouter:
    """One per execution environment: the front end and what it needs, built at the first invocation."""

    def __init__(self, config: RouterConfig, clients: Mapping):
        self.config = config
        self.variants = tuple(sorted(config.variant_endpoints))
        self.deployed = (DeployedVariants(clients["ssm"], config.deployed_variants_parameter,
                                          ttl_seconds=config.config_ttl_seconds)
                         if config.deployed_variants_parameter else None)
        self.frontend = ServingFrontEnd(
            config.endpoint_name,
            SsmWeightsStore(clients["ssm"], config.weights_parameter, ttl_seconds=config.config_ttl_seconds),
            SageMakerEndpointsBackend(config.variant_endpoints, clients["runtime"], self.deployed),
            S3CaptureSink(clients["s3"], config.capture_bucket, config.capture_prefix),
            S3GroundTruthSink(clients["s3"], config.ground_truth_bucket, config.ground_truth_prefix),
            self._thresholds(),
            HSCodeNormalizer(load_hs6_codes(config.nomenclature)),
            parent_thresholds=self._parent_thresholds(),
            hs_texts=load_hs_texts(config.nomenclature),
        )

    def _thresholds(self) -> dict[str, float | None]:
        if self.deployed is None:
            return {variant: None for variant in self.variants}
        return self.deployed.thresholds(self.variants)

    def _parent_thresholds(self) -> dict[str, dict[str, float | None]]:
        if self.deployed is None:
            return {}
        return self.deployed.parent_thresholds(self.variants)

    def handle(self, event: Mapping) -> dict:
        started = time.perf_counter()
        method = (event.get("requestContext", {}).get("http", {}).get("method") or "GET").upper()
        path = unquote(event.get("rawPath") or "/").rstrip("/") or "/"
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        parts = path.strip("/").split("/")
        if path == "/invocations" or (len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations"):
            if method != "POST":
                return _method_not_allowed(path, "POST")
            endpoint_name = parts[1] if len(parts) == 3 else None
            failed_before = self.frontend.capture.stats()["failed"]
            self.frontend.thresholds.update(self._thresholds())  # a new challenger's threshold, within the TTL
            self.frontend.parent_thresholds.update(self._parent_thresholds())
            response = self.frontend.invoke(_body(event), headers.get("content-type"), headers, endpoint_name)
            self.frontend.capture.flush()  # stored before the answer: a frozen Lambda loses nothing
            _emit_metrics(self.config.endpoint_name, response, started,
                          self.frontend.capture.stats()["failed"] - failed_before)
            return function_url_response(response)
        if path == "/feedback":
            if method != "POST":
                return _method_not_allowed(path, "POST")
            return function_url_response(self.frontend.feedback(_body(event)))
        if path == "/ping":
            if method != "GET":
                return _method_not_allowed(path, "GET")
            return _json(200, {"status": "ok", "endpoint": self.config.endpoint_name,
                               "variants": self.config.variant_endpoints})
        if path == "/metrics":
            if method != "GET":
                return _method_not_allowed(path, "GET")
            return _json(200, {**self.frontend.stats(), "scope": "this Lambda execution environment only; "
                               f"CloudWatch namespace {METRICS_NAMESPACE} has every environment's counts"})
        return _json(404, {"error": f"no route {method} {path}: use POST /invocations, "
                                    "POST /endpoints/<name>/invocations, POST /feedback, GET /ping or GET /metrics"})


class BadEvent(ValueError):
    """An event whose body cannot be read (answered 400)."""


def _body(event: Mapping) -> bytes:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except ValueError:
        raise BadEvent("the request body is marked base64 but is not valid base64") from None


def function_url_response(response: FrontEndResponse) -> dict:
    return {"statusCode": response.status, "headers": dict(response.headers),
            "body": response.body.decode("utf-8"), "isBase64Encoded": False}


def _json(status: int, payload: dict, headers: Mapping[str, str] | None = None) -> dict:
    return {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})}, "body": json.dumps(payload),
            "isBase64Encoded": False}


def _method_not_allowed(path: str, allowed: str) -> dict:
    return _json(405, {"error": f"{path} takes {allowed} only"}, {"Allow": allowed})


def _emit_metrics(endpoint: str, response: FrontEndResponse, started: float, capture_failures: int) -> None:
    """One CloudWatch embedded-metric-format log line per invocation: counts across every execution environment,
    without a PutMetricData call in the request path."""
    variant = response.headers.get(INVOKED_VARIANT_HEADER, "none")
    record = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": METRICS_NAMESPACE, "Dimensions": [["Endpoint", "Variant"]],
            "Metrics": [{"Name": "Invocations", "Unit": "Count"}, {"Name": "ServerErrors", "Unit": "Count"},
                        {"Name": "ClientErrors", "Unit": "Count"}, {"Name": "CaptureFailures", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"}]}]},
        "Endpoint": endpoint, "Variant": variant, "Invocations": 1,
        "ServerErrors": int(response.status >= 500), "ClientErrors": int(400 <= response.status < 500),
        "CaptureFailures": capture_failures, "Latency": round((time.perf_counter() - started) * 1000, 3),
        "status": response.status,
    }
    if capture_failures:
        log.error("capture: %d record(s) not stored for this request (the answer was still sent)", capture_failures)
    print(json.dumps(record), flush=True)


_ROUTER: LambdaRouter | None = None


def handler(event, context=None) -> dict:
    """The Lambda entry point (Handler: pipelines.serving.aws_router.handler)."""
    global _ROUTER
    if _ROUTER is None:
        try:
            config = RouterConfig.from_environ(os.environ)
            _ROUTER = LambdaRouter(config, aws_clients(config))
        except Exception as error:  # answered, not raised: the next invocation tries again
            log.exception("router start-up failed")
            return _json(503, {"error": f"the router is not ready: {type(error).__name__}: {error}"})
    try:
        return _ROUTER.handle(event)
    except BadEvent as error:
        return _json(400, {"error": str(error)})
    except Exception as error:  # a bug of ours: logged with its traceback, never sent
        log.exception("router failed")
        return _json(500, {"error": f"internal error: {type(error).__name__}"})
