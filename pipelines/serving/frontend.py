"""The one request path, shared by the local server (app.py) and the AWS Lambda router.

invoke(): endpoint name -> content type (415) -> size (413) -> parse (400) -> ids -> variant (400 for an unknown
TargetVariant) -> the variant's back end, with the body as sent -> each prediction gains inference_id, variant,
decision and the answer fields of steps/hsml/hierarchy.py (answer, answer_set, answer_set_probability; the
official HS 2022 text of the answer and of each explained code) -> capture (never fails the request) -> 200 with
X-Amzn-Invoked-Production-Variant.
Every answer is a JSON body; an unexpected exception is logged with its traceback and answered
500 {"error": "internal error: <type>"}, never with the traceback.

stdlib only (+ the stdlib-only parts of steps.hsml): the AWS Lambda router ships this module.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.serving.capture import (
    CaptureSink,
    base_content_type,
    capture_record,
    row_inference_ids,
    split_row_inference_id,
)
from pipelines.serving.feedback import GroundTruthSink, check_feedback, ground_truth_record
from pipelines.serving.routing import Router, RoutingError, routing_key_from
from pipelines.serving.weights import WeightsStore
from steps.hsml import hierarchy
from steps.hsml.cli_errors import UsageError
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs_levels
from steps.hsml.serving.inference import MAX_EXPLAINED_ROWS, parse_descriptions, wants_explanation

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker real-time's payload limit
MAX_ROWS = 10_000
ALLOWED_CONTENT_TYPES = ("application/json", "application/jsonlines", "text/csv")
INFERENCE_ID_HEADER = "x-amzn-sagemaker-inference-id"
TARGET_VARIANT_HEADER = "x-amzn-sagemaker-target-variant"
CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes"
INVOKED_VARIANT_HEADER = "X-Amzn-Invoked-Production-Variant"
_INFERENCE_ID = re.compile(r"^\S[\x20-\x7e]{0,63}$")  # SageMaker's InferenceId: 1-64 printable characters


@dataclass
class InvokeResult:
    body: bytes
    content_type: str
    model_version: str


class BackendError(Exception):
    """The variant's model answered an error (its status and message are passed on)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class VariantBackend(Protocol):
    def invoke(self, variant: str, body: bytes, content_type: str, custom_attributes: str | None) -> InvokeResult:
        """The model's answer to the request body as sent; raises BackendError for a model error."""


@dataclass
class FrontEndResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self):
        return json.loads(self.body)


class RequestError(Exception):
    """A whole-request error: answered with its status and {"error": message}."""

    def __init__(self, status: int, message: str, variant: str | None = None):
        super().__init__(message)
        self.status, self.message, self.variant = status, message, variant


class KnownIds:
    """The row ids this process issued (the last `max_requests` requests), then an optional fallback lookup
    (e.g. capture.CapturedIds over the capture files). is_known -> True/False, or None when nobody can tell."""

    def __init__(self, max_requests: int = 100_000, fallback: Callable[[str], bool | None] | None = None):
        self.max_requests, self.fallback = max_requests, fallback
        self._rows: OrderedDict[str, int] = OrderedDict()  # request id -> its number of rows
        self._lock = threading.Lock()

    def add(self, request_id: str, rows: int) -> None:
        with self._lock:
            self._rows[request_id] = rows
            self._rows.move_to_end(request_id)
            while len(self._rows) > self.max_requests:
                self._rows.popitem(last=False)

    def is_known(self, row_id: str) -> bool | None:
        with self._lock:
            if row_id in self._rows and self._rows[row_id] == 1:
                return True
            request_id, index = split_row_inference_id(row_id)
            rows = self._rows.get(request_id)
            if rows is not None and rows > 1 and index < rows and row_id != request_id:
                return True
        return self.fallback(row_id) if self.fallback else None


def load_hs_texts(nomenclature) -> dict[str, str]:
    """Code of every level (chapters, headings, subheadings) -> its official HS 2022 text (one read of the file)."""
    by_level = load_hs_levels(nomenclature, ("2", "4", "6"))
    return {code: text for codes in by_level.values() for code, text in codes.items()}


def _ranked(codes, probabilities) -> list[tuple[str, float]]:
    """(code, probability) pairs of one level of a model's answer; [] when the level is missing or malformed."""
    if not isinstance(codes, list) or not isinstance(probabilities, list):
        return []
    return [(str(c), float(p)) for c, p in zip(codes, probabilities) if isinstance(p, (int, float))]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class ServingFrontEnd:
    """Routing, checks, ids, decisions, capture and feedback around a back end that only runs models.

    `thresholds` names the variants served (variant -> accept threshold, None: every answer is "review"); weights
    naming any other variant are refused. `parent_thresholds` (variant -> {"hs4": t, "hs2": t}) let an answer
    fall back to the heading or chapter the model is sure of; a level without one is never the answer.
    `hs_texts` (code of any level -> its official HS 2022 text) names the answer's code and explained codes. A WeightsStore is re-read on every request (cheaply), so new weights
    apply without a restart. Call close() on shutdown: it stores what capture and ground truth still buffer.
    """

    def __init__(self, endpoint_name: str, router_or_weights_store: Router | WeightsStore, backend: VariantBackend,
                 capture: CaptureSink, ground_truth: GroundTruthSink, thresholds: Mapping[str, float | None],
                 normalizer: HSCodeNormalizer, *, max_body_bytes: int = MAX_BODY_BYTES, max_rows: int = MAX_ROWS,
                 known_ids: KnownIds | None = None,
                 parent_thresholds: Mapping[str, Mapping[str, float | None]] | None = None,
                 hs_texts: Mapping[str, str] | None = None, set_level: float = hierarchy.DEFAULT_SET_LEVEL):
        self.endpoint_name = endpoint_name
        self.backend, self.capture, self.ground_truth = backend, capture, ground_truth
        self.thresholds = dict(thresholds)
        self.parent_thresholds = {variant: dict(levels) for variant, levels in (parent_thresholds or {}).items()}
        self.hs_texts = dict(hs_texts or {})
        self.set_level = set_level
        self.normalizer = normalizer
        self.max_body_bytes, self.max_rows = max_body_bytes, max_rows
        self.known_ids = known_ids or KnownIds()
        self._store = router_or_weights_store if isinstance(router_or_weights_store, WeightsStore) else None
        self._router = router_or_weights_store if isinstance(router_or_weights_store, Router) else None
        if self._store is not None:
            self._router = self._checked_router(self._store.read())
        self._lock = threading.Lock()
        self._counts: Counter = Counter()
        self._errors: Counter = Counter()
        self._per_variant: dict[str, Counter] = {}
        self._feedback: Counter = Counter()

    # --- routing ---------------------------------------------------------------------------------------------
    def _checked_router(self, weights: Mapping[str, float]) -> Router:
        router = Router(weights)
        unknown = sorted(set(router.variants) - set(self.thresholds))
        if unknown:
            raise UsageError(f"weights name {', '.join(unknown)}, which this endpoint does not serve "
                             f"(variants: {', '.join(sorted(self.thresholds))})")
        return router

    def router(self) -> Router:
        """The current router; re-built when the weights store answers new weights."""
        if self._store is None:
            return self._router
        try:
            weights = self._store.read()
            if weights != self._router.weights:
                self._router = self._checked_router(weights)
                log.info("routing by new weights %s", self._router)
        except Exception as error:  # a store that cannot be read must not stop the traffic
            log.warning("new weights refused (%s); still routing by %s", error, self._router)
        return self._router

    # --- invocations -----------------------------------------------------------------------------------------
    def invoke(self, body: bytes, content_type: str | None, headers: Mapping[str, str],
               endpoint_name: str | None = None) -> FrontEndResponse:
        started = time.perf_counter()
        try:
            response = self._invoke(body, content_type, _lower(headers), endpoint_name, started)
        except RequestError as error:
            response = self._error(error.status, error.message, error.variant)
        except Exception as error:
            log.exception("invocation failed")
            response = self._error(500, f"internal error: {type(error).__name__}", None)
        self._count_request(response.status)
        return response

    def _invoke(self, body, content_type, headers, endpoint_name, started) -> FrontEndResponse:
        if endpoint_name is not None and endpoint_name != self.endpoint_name:
            raise RequestError(404, f"no endpoint named {endpoint_name!r}: this server is {self.endpoint_name!r}")
        content_type = content_type or "application/json"
        kind = base_content_type(content_type)
        if kind not in ALLOWED_CONTENT_TYPES:
            raise RequestError(415, f"Unsupported Media Type: {kind}; send {', '.join(ALLOWED_CONTENT_TYPES)}")
        if len(body) > self.max_body_bytes:
            raise RequestError(413, f"request body is {len(body):,} bytes, over the limit of "
                                    f"{self.max_body_bytes:,} bytes: split it into smaller requests")
        try:
            rows = parse_descriptions(body, kind)
        except ValueError as error:
            raise RequestError(400, f"cannot read the request body as {kind}: {error}") from None
        if not rows:
            raise RequestError(400, "the request holds no descriptions: send at least one")
        if len(rows) > self.max_rows:
            raise RequestError(413, f"request has {len(rows):,} descriptions, over the limit of {self.max_rows:,} "
                                    "per request: split it into smaller requests")
        if len(rows) > MAX_EXPLAINED_ROWS and wants_explanation(body, kind, headers.get(CUSTOM_ATTRIBUTES_HEADER)):
            raise RequestError(413, f"explanations are given for at most {MAX_EXPLAINED_ROWS} descriptions a "
                                    f"request, this one has {len(rows):,}: split it, or ask without explain")
        request_id = self._request_id(headers)
        router = self.router()
        try:
            variant = router.choose(routing_key_from(headers), request_id, headers.get(TARGET_VARIANT_HEADER) or None)
        except RoutingError as error:
            raise RequestError(400, str(error)) from None
        try:
            result = self.backend.invoke(variant, body, content_type, headers.get(CUSTOM_ATTRIBUTES_HEADER))
        except BackendError as error:
            self._count_variant(variant, rows=0, error=True)
            status = error.status if isinstance(error.status, int) and 400 <= error.status <= 599 else 502
            raise RequestError(status, error.message, variant) from None
        except Exception:
            self._count_variant(variant, rows=0, error=True)
            raise
        row_ids = row_inference_ids(request_id, len(rows))
        try:
            entries = self._annotated(result, row_ids, variant)
        except RequestError:
            self._count_variant(variant, rows=0, error=True)
            raise
        response_body = json.dumps({"predictions": entries}, separators=(",", ":")).encode("utf-8")
        self.known_ids.add(request_id, len(rows))
        latency_ms = (time.perf_counter() - started) * 1000
        self._capture(body, content_type, response_body, request_id, result.model_version, latency_ms, variant)
        self._count_variant(variant, rows=len(rows), error=False, rows_failed=sum("error" in e for e in entries))
        headers_out = {"Content-Type": "application/json", INVOKED_VARIANT_HEADER: variant}
        return FrontEndResponse(200, response_body, headers_out)

    def _request_id(self, headers: Mapping[str, str]) -> str:
        given = headers.get(INFERENCE_ID_HEADER)
        if not given:
            return uuid.uuid4().hex
        if not _INFERENCE_ID.match(given):
            raise RequestError(400, f"inference id {given[:80]!r} is not valid: 1 to 64 printable characters, "
                                    "starting with a non-space")
        if ":" in given:
            raise RequestError(400, f"inference id {given!r} contains ':', which this endpoint reserves for row "
                                    "ids (<request id>:<row>): choose an id without ':'")
        return given

    def _annotated(self, result: InvokeResult, row_ids: list[str], variant: str) -> list[dict]:
        """The back end's entries, each with inference_id, variant and (for a good row) decision."""
        try:
            predictions = json.loads(result.body)["predictions"]
            if not isinstance(predictions, list) or not all(isinstance(e, dict) for e in predictions):
                raise TypeError("predictions is not a list of objects")
        except (ValueError, KeyError, TypeError) as error:
            raise RequestError(502, f"variant {variant!r} answered something other than "
                                    f'{{"predictions": [...]}} ({error})', variant) from None
        if len(predictions) != len(row_ids):
            raise RequestError(502, f"variant {variant!r} answered {len(predictions)} predictions for "
                                    f"{len(row_ids)} descriptions", variant)
        threshold = self.thresholds.get(variant)
        level_thresholds = {"hs6": threshold, **self.parent_thresholds.get(variant, {})}
        entries = []
        for entry, row_id in zip(predictions, row_ids):
            entry = {**entry, "inference_id": row_id, "variant": variant}
            if "error" not in entry:
                vague = entry.get("vague") is True
                probabilities = entry.get("probabilities") or []
                top = probabilities[0] if isinstance(probabilities, list) and probabilities else None
                accept = threshold is not None and isinstance(top, (int, float)) and top >= threshold and not vague
                entry["decision"] = "accept" if accept else "review"
                entry.update(self._answer(entry, level_thresholds, vague))
            entries.append(entry)
        return entries

    def _answer(self, entry: dict, thresholds: dict[str, float | None], vague: bool) -> dict:
        """hierarchy.answer's fields for one good row (a row the model answered oddly gets level "none")."""
        levels = {level: _ranked(entry.get(codes), entry.get(probabilities)) for level, codes, probabilities in
                  (("hs6", "codes", "probabilities"), ("hs4", "hs4_codes", "hs4_probabilities"),
                   ("hs2", "hs2_codes", "hs2_probabilities"))}
        fields = hierarchy.answer(levels, thresholds, vague=vague, set_level=self.set_level)
        code = fields["answer"]["code"]
        if code is not None and code in self.hs_texts:
            fields["answer"]["hs_text"] = self.hs_texts[code]
        for explained in entry.get("explanation") or []:
            if isinstance(explained, dict) and explained.get("code") in self.hs_texts:
                explained["hs_text"] = self.hs_texts[explained["code"]]
        return fields

    def _capture(self, body, content_type, response_body, request_id, model_version, latency_ms, variant) -> None:
        try:
            record = capture_record(request_body=body, request_content_type=content_type,
                                    response_body=response_body, inference_id=request_id,
                                    model_version=model_version, latency_ms=latency_ms)
            self.capture.write(record, self.endpoint_name, variant)
        except Exception:  # capture must never fail a request; the sink counts its own failures
            log.exception("capture failed for request %s", request_id)
            with self._lock:
                self._counts["capture_errors"] += 1

    # --- feedback --------------------------------------------------------------------------------------------
    def feedback(self, body: bytes) -> FrontEndResponse:
        try:
            return self._feedback_response(body)
        except RequestError as error:
            self._count_feedback_error(error.status)
            return self._error(error.status, error.message, None)
        except Exception as error:
            log.exception("feedback failed")
            self._count_feedback_error(500)
            return self._error(500, f"internal error: {type(error).__name__}", None)

    def _feedback_response(self, body: bytes) -> FrontEndResponse:
        if len(body) > self.max_body_bytes:
            raise RequestError(413, f"feedback body is {len(body):,} bytes, over the limit of "
                                    f"{self.max_body_bytes:,} bytes: send it in parts")
        try:
            payload = json.loads(body)
        except ValueError as error:
            raise RequestError(400, f"feedback must be JSON: {error}") from None
        items = payload if isinstance(payload, list) else [payload]
        if not items:
            raise RequestError(400, 'no feedback given: send {"inference_id": ..., "hs_code": ...} or a list')
        if len(items) > self.max_rows:
            raise RequestError(413, f"{len(items):,} feedback items, over the limit of {self.max_rows:,}")
        row_ids = [i["inference_id"] for i in items if isinstance(i, dict) and isinstance(i.get("inference_id"), str)]
        existing = self.ground_truth.labels(row_ids)
        report = check_feedback(items, self.normalizer, self.known_ids.is_known, existing=existing)
        accepted = report.accepted()
        for item in accepted:
            self.ground_truth.write(ground_truth_record(item["inference_id"], item["hs_code"]))
        if accepted:
            try:
                self.ground_truth.flush()  # acknowledged only once stored
            except Exception as error:
                log.exception("feedback could not be stored")
                raise RequestError(503, f"could not store the feedback ({type(error).__name__}): nothing was "
                                        "recorded; send it again") from None
        counts = report.counts()
        with self._lock:
            self._feedback.update({k: v for k, v in counts.items() if k != "submitted"})
            self._feedback["requests"] += 1
        result = report.to_dict()
        if counts["invalid"] and not accepted and not counts["duplicate"]:
            result = {"error": f"no feedback recorded: {counts['invalid']} invalid item(s); see results", **result}
            status = 400
        else:
            status = 200
        return FrontEndResponse(status, json.dumps(result).encode("utf-8"), {"Content-Type": "application/json"})

    # --- bookkeeping -----------------------------------------------------------------------------------------
    def _error(self, status: int, message: str, variant: str | None) -> FrontEndResponse:
        headers = {"Content-Type": "application/json"}
        if variant is not None:
            headers[INVOKED_VARIANT_HEADER] = variant
        return FrontEndResponse(status, json.dumps({"error": message}).encode("utf-8"), headers)

    def _count_request(self, status: int) -> None:
        with self._lock:
            self._counts["requests"] += 1
            if status != 200:
                self._errors[str(status)] += 1

    def _count_variant(self, variant: str, rows: int, error: bool, rows_failed: int = 0) -> None:
        with self._lock:
            counts = self._per_variant.setdefault(variant, Counter())
            counts["requests"] += 1
            counts["rows"] += rows
            counts["row_errors"] += rows_failed
            counts["errors"] += int(error)
            self._counts["rows"] += rows

    def _count_feedback_error(self, status: int) -> None:
        with self._lock:
            self._feedback["requests"] += 1
            self._feedback[f"errors_{status}"] += 1

    def stats(self) -> dict:
        with self._lock:
            stats = {
                "endpoint": self.endpoint_name,
                "requests": self._counts["requests"],
                "rows": self._counts["rows"],
                "errors": dict(self._errors),
                "variants": {name: dict(c) for name, c in sorted(self._per_variant.items())},
                "feedback": dict(self._feedback),
                "capture_errors": self._counts["capture_errors"],
            }
        stats["weights"] = dict(self._router.weights)
        stats["capture"] = self.capture.stats()
        return stats

    def close(self) -> None:
        """Store everything buffered (capture, ground truth): call on shutdown."""
        try:
            self.capture.close()
        finally:
            self.ground_truth.close()
