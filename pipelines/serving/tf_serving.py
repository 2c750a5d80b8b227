"""TensorFlow Serving's REST predict API for one SavedModel, in process, with micro-batching.

In the SageMaker TF Serving container the model's hook posts `{"signature_name", "instances"}` to
`http://localhost:8501/v1/models/<name>[/versions/<v>]:predict` and reads `{"predictions": [...]}` back. Locally
`TFServingEmulator` answers the same body with the same JSON (row format: "instances" → "predictions", one object
per row holding every output; columnar: "inputs" → "outputs"), and words its errors as TF Serving does
(`{"error": ...}`, 400 for a bad request, 404 for another model name). It serves what steps/hsml/export.py writes:
serving_default takes one string vector, and other signatures (score_codes: descriptions and codes) string vectors
in row format, outside the micro-batcher; it refuses any other input kind when it loads.

Micro-batching: concurrent requests are queued and one worker thread runs them as a single SavedModel call (up to
`max_batch` rows), then hands each caller its own rows. The worker takes whatever is queued when it is free; it
lingers up to `max_wait_s` for more only when the previous call held more than one request (under load), so a lone
client never waits for company. TensorFlow releases the GIL while it runs, so the server keeps parsing the next
requests meanwhile.
"""
from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

DEFAULT_SIGNATURE = "serving_default"
DEFAULT_MODEL_NAME = "model"  # the container's name for the one model it serves
REST_PORT = 8501  # TF Serving's REST port in the container; only ever part of a URI here
DEFAULT_MAX_BATCH = 256
DEFAULT_MAX_WAIT_S = 0.001

_URI = re.compile(r"^https?://[^/]+/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?:(?P<verb>[a-z]+)$")
_STOP = object()
log = logging.getLogger(__name__)


class TFServingError(Exception):
    """A request TF Serving would refuse: `status` and the message of its `{"error": ...}` body."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Job:
    __slots__ = ("texts", "done", "outputs", "start", "error")

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.done = threading.Event()
        self.outputs: dict | None = None  # the batch's numpy outputs; this job's rows start at `start`
        self.start = 0
        self.error: BaseException | None = None


class MicroBatcher:
    """One worker thread running `run(texts) -> {output: numpy array}` over the rows of concurrent submits."""

    def __init__(self, run: Callable[[list[str]], dict], max_batch: int = DEFAULT_MAX_BATCH,
                 max_wait_s: float = DEFAULT_MAX_WAIT_S, name: str = "tf-serving-batcher"):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.calls = 0  # model calls made, and the requests and rows they held (for /metrics and tests)
        self.requests = 0
        self.rows = 0
        self._worker = threading.Thread(target=self._loop, name=name, daemon=True)
        self._worker.start()

    def submit(self, texts: list[str]) -> tuple[dict, int, int]:
        """Blocks until the model ran: (the batch's outputs, this request's first row, its row count)."""
        job = _Job(texts)
        with self._lock:  # every job is queued before the stop mark, so none waits forever
            if self._closed:
                raise RuntimeError("the model server is shutting down")
            self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.outputs, job.start, len(texts)

    def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._worker.join()

    def _loop(self) -> None:
        carried = None
        lingering = False
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is _STOP:
                return
            batch, rows = [first], len(first.texts)
            deadline = time.monotonic() + (self.max_wait_s if lingering else 0.0)
            while rows < self.max_batch:
                try:
                    wait = deadline - time.monotonic()
                    job = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP or rows + len(job.texts) > self.max_batch:
                    carried = job  # runs next (a large request gets a call of its own)
                    break
                batch.append(job)
                rows += len(job.texts)
            lingering = len(batch) > 1
            self._execute(batch)

    def _execute(self, batch: list[_Job]) -> None:
        texts = batch[0].texts if len(batch) == 1 else [t for job in batch for t in job.texts]
        try:
            outputs = self._run(texts)
        except BaseException as error:  # every caller gets the failure; the worker keeps serving
            log.exception("SavedModel call failed for %d rows", len(texts))
            for job in batch:
                job.error = error
                job.done.set()
            return
        self.calls += 1
        self.requests += len(batch)
        self.rows += len(texts)
        start = 0
        for job in batch:
            job.outputs, job.start = outputs, start
            start += len(job.texts)
            job.done.set()


class TFServingEmulator:
    """The REST predict API of a TF Serving model server holding one SavedModel (`saved_model_dir`)."""

    def __init__(self, saved_model_dir: str | Path, *, model_name: str = DEFAULT_MODEL_NAME, version: str = "1",
                 max_batch: int = DEFAULT_MAX_BATCH, max_wait_s: float = DEFAULT_MAX_WAIT_S):
        import tensorflow as tf

        self._tf = tf
        self.model_name = model_name
        self.version = str(version)
        self._saved_model = tf.saved_model.load(str(saved_model_dir))  # keep a reference: it owns the variables
        self._signatures = {}
        for name, function in self._saved_model.signatures.items():
            inputs = function.structured_input_signature[1]
            if not inputs or any(spec.dtype != tf.string or spec.shape.rank != 1 for spec in inputs.values()):
                raise ValueError(f"{saved_model_dir}: signature {name!r} takes {inputs}; the local TF Serving "
                                 "emulation serves signatures of string vector inputs (serving_default: one string vector input)")
            self._signatures[name] = (function, sorted(inputs), sorted(function.structured_outputs))
        if DEFAULT_SIGNATURE not in self._signatures:
            raise ValueError(f"{saved_model_dir}: no {DEFAULT_SIGNATURE!r} signature "
                             f"(it has {sorted(self._signatures) or 'none'})")
        self._function, input_names, self.output_names = self._signatures[DEFAULT_SIGNATURE]
        if len(input_names) != 1:
            raise ValueError(f"{saved_model_dir}: {DEFAULT_SIGNATURE!r} takes {input_names}; the local TF Serving "
                             "emulation batches a signature of one string vector input")
        self.input_name = input_names[0]
        for size in sorted({1, 2, 8, 64, max_batch}):  # TF's first calls (and first batch sizes) are slow
            self._call_model(["warm up"] * size)
        self.batcher = MicroBatcher(self._call_model, max_batch, max_wait_s, name=f"tf-serving-{model_name}")

    @property
    def rest_uri(self) -> str:
        """The URI the container hands the hook as context.rest_uri for this model."""
        return f"http://localhost:{REST_PORT}/v1/models/{self.model_name}:predict"

    def post(self, uri: str, body: bytes | str) -> tuple[int, bytes]:
        """TF Serving's answer to POST <uri> with this body: (status, JSON bytes)."""
        try:
            payload = self._respond(uri, body)
        except TFServingError as error:
            return error.status, json.dumps({"error": error.message}).encode()
        return 200, json.dumps(payload).encode()

    def predict(self, uri: str, body: bytes | str) -> list:
        """The "predictions" list of a row-format request, without encoding it to JSON and back;
        raises TFServingError where TF Serving would answer an error."""
        payload = self._respond(uri, body)
        if "predictions" not in payload:
            raise TFServingError(400, "expected an 'instances' request to answer 'predictions'")
        return payload["predictions"]

    def close(self) -> None:
        self.batcher.close()

    def _respond(self, uri: str, body: bytes | str) -> dict:
        self._check_uri(uri)
        request = _parse(body)
        signature = request.get("signature_name", DEFAULT_SIGNATURE)
        if not isinstance(signature, str):
            raise TFServingError(400, "'signature_name' key must be a string value.")
        if signature not in self._signatures:
            raise TFServingError(400, f'Serving signature name: "{signature}" not found in signature def')
        if signature != DEFAULT_SIGNATURE:
            return self._respond_unbatched(signature, request)
        if ("instances" in request) == ("inputs" in request):
            if "instances" in request:
                raise TFServingError(400, "Not formatted correctly expecting only one of 'inputs' or 'instances' "
                                          "keys to exist")
            raise TFServingError(400, "Missing 'inputs' or 'instances' key")
        if "instances" in request:
            texts = self._row_texts(request["instances"])
            outputs, start, count = self.batcher.submit(texts)
            return {"predictions": self._rows(outputs, start, count)}
        texts = self._column_texts(request["inputs"])
        outputs, start, count = self.batcher.submit(texts)
        columns = {name: _json_ready(outputs[name][start:start + count]) for name in self.output_names}
        return {"outputs": columns if len(columns) > 1 else next(iter(columns.values()))}

    def _respond_unbatched(self, signature: str, request: dict) -> dict:
        """Another signature (e.g. score_codes): row format, each instance an object of its string inputs; one
        direct call, outside the micro-batcher (it batches serving_default only)."""
        function, input_names, output_names = self._signatures[signature]
        instances = request.get("instances")
        if not isinstance(instances, list) or not instances:
            raise TFServingError(400, f"signature {signature!r}: the local emulation answers a non-empty "
                                      "'instances' list only")
        columns: dict[str, list[str]] = {name: [] for name in input_names}
        for i, item in enumerate(instances):
            if not isinstance(item, dict) or set(item) != set(input_names):
                raise TFServingError(400, f"Failed to process element: {i} of 'instances' list. JSON object: "
                                          f"{json.dumps(item)[:200]} must only have keys: {', '.join(input_names)}")
            for name in input_names:
                if not isinstance(item[name], str):
                    raise TFServingError(400, f"Failed to process element: {i} of 'instances' list. Error: "
                                              f"{_type_error(item[name])}")
                columns[name].append(item[name])
        out = function(**{name: self._tf.constant(values, self._tf.string) for name, values in columns.items()})
        values = [_json_ready(out[name].numpy()) for name in output_names]
        if len(output_names) == 1:  # TF Serving answers a lone output's values bare
            return {"predictions": values[0]}
        return {"predictions": [dict(zip(output_names, row)) for row in zip(*values)]}

    def _check_uri(self, uri: str) -> None:
        match = _URI.match(uri or "")
        if not match:
            raise TFServingError(404, f"Malformed request: POST {uri}")
        if match["name"] != self.model_name or match["version"] not in (None, self.version):
            wanted = f"Specific({match['name']}, {match['version']})" if match["version"] else f"Latest({match['name']})"
            raise TFServingError(404, f"Servable not found for request: {wanted}")
        if match["verb"] != "predict":
            raise TFServingError(400, f"{match['verb']}: the local emulation answers predict only")

    def _row_texts(self, instances) -> list[str]:
        if not isinstance(instances, list):
            raise TFServingError(400, "Excepting 'instances' to be an list/array")
        if not instances:
            raise TFServingError(400, "No values in 'instances' array")
        texts = instances
        if isinstance(instances[0], dict):
            texts = []
            for i, item in enumerate(instances):
                if not isinstance(item, dict) or set(item) != {self.input_name}:
                    raise TFServingError(400, f"Failed to process element: {i} of 'instances' list. JSON object: "
                                              f"{json.dumps(item)} must only have keys: {self.input_name}")
                texts.append(item[self.input_name])
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TFServingError(400, f"Failed to process element: {i} of 'instances' list. Error: "
                                          f"{_type_error(text)}")
        return texts

    def _column_texts(self, inputs) -> list[str]:
        if isinstance(inputs, dict):
            if self.input_name not in inputs:
                raise TFServingError(400, f"Missing named input: {self.input_name} in 'inputs' object.")
            inputs = inputs[self.input_name]
        if not isinstance(inputs, list) or not all(isinstance(text, str) for text in inputs):
            bad = inputs if not isinstance(inputs, list) else next(t for t in inputs if not isinstance(t, str))
            raise TFServingError(400, _type_error(bad))
        return inputs

    def _rows(self, outputs: dict, start: int, count: int) -> list[dict]:
        columns = [_json_ready(outputs[name][start:start + count]) for name in self.output_names]
        return [dict(zip(self.output_names, values)) for values in zip(*columns)]

    def _call_model(self, texts: list[str]) -> dict:
        out = self._function(**{self.input_name: self._tf.constant(texts, self._tf.string)})
        return {name: out[name].numpy() for name in self.output_names}


def _parse(body: bytes | str) -> dict:
    if not body:
        raise TFServingError(400, "JSON Parse error: The document is empty")
    try:
        request = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise TFServingError(400, f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise TFServingError(400, f"JSON Value: {json.dumps(request)[:200]} Is not object")
    return request


def _type_error(value) -> str:
    kind = {bool: "True" if value else "False", type(None): "Null", dict: "Object", list: "Array"}.get(
        type(value), "Number")
    return f"JSON Value: {json.dumps(value)[:200]} Type: {kind} is not of expected type: string"


def _json_ready(array) -> list:
    """A numpy output slice as JSON values: strings decoded (TF Serving writes DT_STRING as UTF-8 text)."""
    values = array.tolist()
    if array.dtype.kind in "OS":
        return [[v.decode("utf-8") for v in row] if isinstance(row, list) else row.decode("utf-8") for row in values]
    return values
