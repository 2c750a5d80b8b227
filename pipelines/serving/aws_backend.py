"""The router's back end on AWS: one SageMaker serverless endpoint per variant, called with invoke_endpoint.

Serverless endpoints have neither production variants nor data capture, so each variant is its own endpoint
(`<project>-<env>-prod-champion`, `...-prod-challenger`) and the router in front of them does the weighting and
the capture. The body goes to the endpoint as the client sent it; the endpoint's answer comes back unchanged for
the front end to annotate.

What each variant serves (the registry package and version, its accept threshold) is written by the deploy
pipeline to an SSM parameter, `DeployedVariants`, which the router re-reads every few seconds: a new challenger
is reported with its own version and threshold without a redeploy of the router.

stdlib + boto3 only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from pipelines.serving.frontend import BackendError, InvokeResult
from steps.hsml.hierarchy import thresholds_from_metrics

log = logging.getLogger(__name__)

# SageMaker runtime error codes that mean "try again shortly", not "the request is wrong".
_RETRY_LATER = {"ThrottlingException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException",
                "ModelNotReadyException"}


class DeployedVariants:
    """What each variant's endpoint serves, from a JSON SSM parameter the deploy pipeline writes:
    {"challenger": {"model_package_arn": ..., "model_version": "4", "accept_threshold": 0.62,
                    "accept_threshold_hs4": 0.55, "accept_threshold_hs2": 0.5}, ...} (the last two optional).

    Read at most once per `ttl_seconds`; a parameter that cannot be read (or holds junk) keeps the last good value,
    and one never read reads as empty (versions fall back to endpoint names, decisions to "review").
    """

    def __init__(self, client, parameter_name: str, ttl_seconds: float = 10,
                 clock: Callable[[], float] = time.monotonic):
        self.client, self.parameter_name, self.ttl_seconds = client, parameter_name, ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._value: dict[str, dict] = {}
        self._read_at = float("-inf")

    def read(self) -> dict[str, dict]:
        with self._lock:
            if self._clock() - self._read_at >= self.ttl_seconds:
                self._refresh()
            return dict(self._value)

    def _refresh(self) -> None:
        try:
            text = self.client.get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
            value = json.loads(text)
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ValueError("expected a JSON object of variant -> {model_version, accept_threshold, ...}")
        except Exception as error:  # botocore's errors or junk text: keep what we had
            log.warning("cannot read the deployed variants from SSM parameter %s (%s); keeping %s",
                        self.parameter_name, error, self._value or "none")
        else:
            self._value = value
        self._read_at = self._clock()

    def model_version(self, variant: str) -> str | None:
        version = self.read().get(variant, {}).get("model_version")
        return None if version is None else str(version)

    def thresholds(self, variants: list[str] | tuple[str, ...]) -> dict[str, float | None]:
        """variant -> accept threshold (None when the deploy recorded none: every answer is then "review")."""
        deployed = self.read()
        thresholds: dict[str, float | None] = {}
        for variant in variants:
            value = deployed.get(variant, {}).get("accept_threshold")
            try:
                thresholds[variant] = None if value is None else float(value)
            except (TypeError, ValueError):
                log.warning("accept_threshold of variant %s is %r, not a number; answering review", variant, value)
                thresholds[variant] = None
        return thresholds

    def parent_thresholds(self, variants: list[str] | tuple[str, ...]) -> dict[str, dict[str, float | None]]:
        """variant -> {"hs4": t, "hs2": t} from accept_threshold_hs4 / accept_threshold_hs2 (None when the deploy
        recorded none: the answer then never falls back to that level)."""
        deployed = self.read()
        return {variant: {level: value for level, value in thresholds_from_metrics(deployed.get(variant, {})).items()
                          if level != "hs6"} for variant in variants}


class SageMakerEndpointsBackend:
    """VariantBackend: variant -> its endpoint, through a sagemaker-runtime client (one per variant if their
    endpoint URLs differ, e.g. local `hscode serve` processes standing in for the endpoints)."""

    def __init__(self, endpoints: Mapping[str, str], clients: Mapping[str, object],
                 deployed: DeployedVariants | None = None):
        missing = sorted(set(endpoints) - set(clients))
        if missing:
            raise ValueError(f"no sagemaker-runtime client for variant(s) {', '.join(missing)}")
        self.endpoints, self.clients, self.deployed = dict(endpoints), dict(clients), deployed

    def invoke(self, variant: str, body: bytes, content_type: str, custom_attributes: str | None) -> InvokeResult:
        endpoint = self.endpoints.get(variant)
        if endpoint is None:
            raise BackendError(503, f"variant {variant!r} has no endpoint configured (VARIANT_ENDPOINTS names "
                                    f"{', '.join(sorted(self.endpoints))}): set its weight to 0")
        request = {"EndpointName": endpoint, "Body": body, "ContentType": content_type, "Accept": "application/json"}
        if custom_attributes:
            request["CustomAttributes"] = custom_attributes
        try:
            response = self.clients[variant].invoke_endpoint(**request)
            answer = response["Body"].read()
        except ClientError as error:
            raise endpoint_error(error, variant, endpoint) from None
        except ReadTimeoutError:
            raise BackendError(504, f"the {variant} endpoint {endpoint} did not answer in time: retry, or send "
                                    "fewer descriptions per request") from None
        except (ConnectTimeoutError, EndpointConnectionError) as error:
            raise BackendError(503, f"the {variant} endpoint {endpoint} cannot be reached ({error}): retry "
                                    "shortly") from None
        except BotoCoreError as error:
            raise BackendError(502, f"calling the {variant} endpoint {endpoint} failed: {error}") from None
        version = self.deployed.model_version(variant) if self.deployed is not None else None
        return InvokeResult(body=answer, content_type=response.get("ContentType", "application/json"),
                            model_version=version or endpoint)


def endpoint_error(error: ClientError, variant: str, endpoint: str) -> BackendError:
    """invoke_endpoint's error as the status and message the router answers with.

    A ModelError carries the container's own answer: its 4xx is the client's fault and passes through with the
    model's message; its 5xx is ours (502). A missing endpoint, throttling or a model still loading is 503 (retry,
    or the variant is not deployed yet). Other 4xx refusals of the request (ValidationError, e.g. CustomAttributes
    too long; a SageMaker-compatible server's own 4xx) pass through; anything else (access denied) is 502.
    """
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code == "ModelError":
        original = error.response.get("OriginalStatusCode")
        inner = _inner_message(error.response.get("OriginalMessage") or message)
        if isinstance(original, int) and 400 <= original < 500:
            return BackendError(original, inner)
        return BackendError(502, f"the {variant} model failed ({original}): {inner} (see CloudWatch logs "
                                 f"/aws/sagemaker/Endpoints/{endpoint})")
    if code in _RETRY_LATER or status in (429, 503):
        return BackendError(503, f"the {variant} endpoint {endpoint} is busy or starting ({code}: {message}): "
                                 "retry shortly")
    if code == "ValidationError" and "not found" in message.lower() and "endpoint" in message.lower():
        return BackendError(503, f"variant {variant!r} is not deployed: endpoint {endpoint} not found; deploy it "
                                 "(docs/deploy.md) or set its weight to 0")
    if 400 <= status < 500 and (code == "ValidationError" or code.isdigit()):
        # botocore keeps no message of a bare 4xx (code = the status): say who refused
        return BackendError(status, _inner_message(message) or f"the {variant} endpoint {endpoint} refused the "
                                                               f"request ({status})")
    return BackendError(502, f"calling the {variant} endpoint {endpoint} failed ({code or status}): {message}")


def _inner_message(text: str) -> str:
    """The container's {"error": "..."} body as its message; any other text as it is."""
    try:
        payload = json.loads(text)
    except (TypeError, ValueError):
        return str(text)
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return payload["error"]
    return str(text)
