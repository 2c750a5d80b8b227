"""The in-process TF Serving REST predict API: TF Serving's JSON in and out, its error wording, and micro-batching
(concurrent calls gathered into one SavedModel call, each caller handed back exactly its own rows)."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf

from pipelines.serving.tf_serving import MicroBatcher, TFServingEmulator, TFServingError
from tests.steps.model_fixtures import small_splits

URI = "http://localhost:8501/v1/models/model:predict"


@pytest.fixture(scope="module")
def emulator(model_dir):
    emulator = TFServingEmulator(model_dir / "1")
    yield emulator
    emulator.close()


@pytest.fixture(scope="module")
def texts():
    return small_splits()[1]["text"].tolist()[:40]


def saved_model_rows(model_dir, texts):
    """What TF Serving computes: the SavedModel's serving_default on these texts, as JSON values."""
    out = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"](descriptions=tf.constant(texts))
    return [{"codes": [c.decode() for c in codes], "probabilities": probabilities.tolist()}
            for codes, probabilities in zip(out["codes"].numpy(), out["probabilities"].numpy())]


def test_row_format_answers_predictions_as_tf_serving_does(emulator, model_dir, texts):
    status, body = emulator.post(URI, json.dumps({"signature_name": "serving_default", "instances": texts[:5]}))
    assert status == 200
    predictions = json.loads(body)["predictions"]
    expected = saved_model_rows(model_dir, texts[:5])
    assert [p["codes"] for p in predictions] == [e["codes"] for e in expected]
    np.testing.assert_allclose([p["probabilities"] for p in predictions], [e["probabilities"] for e in expected],
                               rtol=1e-6)
    named = emulator.predict(URI, json.dumps({"instances": [{"descriptions": t} for t in texts[:5]]}))
    assert [p["codes"] for p in named] == [e["codes"] for e in expected]


def test_columnar_format_answers_outputs(emulator, texts):
    rows = emulator.predict(URI, json.dumps({"instances": texts[:3]}))
    for inputs in (texts[:3], {"descriptions": texts[:3]}):
        status, body = emulator.post(URI, json.dumps({"inputs": inputs}))
        assert status == 200
        outputs = json.loads(body)["outputs"]
        assert outputs["codes"] == [row["codes"] for row in rows]
        assert set(outputs) == {"codes", "probabilities", "hs4_codes", "hs4_probabilities", "hs2_codes",
                                "hs2_probabilities"}


def test_a_version_in_the_uri_is_served_when_it_is_the_loaded_one(emulator, texts):
    uri = "http://localhost:8501/v1/models/model/versions/1:predict"
    assert len(emulator.predict(uri, json.dumps({"instances": texts[:2]}))) == 2


@pytest.mark.parametrize("body, status, message", [
    ("", 400, "JSON Parse error: The document is empty"),
    ("{not json", 400, "JSON Parse error"),
    ('["a"]', 400, "Is not object"),
    ('{"rows": ["a"]}', 400, "Missing 'inputs' or 'instances' key"),
    ('{"instances": ["a"], "inputs": ["a"]}', 400, "expecting only one of 'inputs' or 'instances'"),
    ('{"instances": "a"}', 400, "Excepting 'instances' to be an list/array"),
    ('{"instances": []}', 400, "No values in 'instances' array"),
    ('{"instances": ["a", 42]}', 400,
     "Failed to process element: 1 of 'instances' list. Error: JSON Value: 42 Type: Number is not of expected "
     "type: string"),
    ('{"instances": [{"text": "a"}]}', 400, "must only have keys: descriptions"),
    ('{"inputs": {"text": ["a"]}}', 400, "Missing named input: descriptions in 'inputs' object."),
    ('{"signature_name": "other", "instances": ["a"]}', 400,
     'Serving signature name: "other" not found in signature def'),
    ('{"signature_name": 3, "instances": ["a"]}', 400, "'signature_name' key must be a string value."),
])
def test_bad_requests_get_tf_servings_error_and_status(emulator, body, status, message):
    answer_status, answer = emulator.post(URI, body)
    assert answer_status == status
    assert message in json.loads(answer)["error"]
    with pytest.raises(TFServingError) as raised:
        emulator.predict(URI, body)
    assert raised.value.status == status


@pytest.mark.parametrize("uri, status, message", [
    ("http://localhost:8501/v1/models/other:predict", 404, "Servable not found for request: Latest(other)"),
    ("http://localhost:8501/v1/models/model/versions/7:predict", 404, "Specific(model, 7)"),
    ("http://localhost:8501/v1/models/model:classify", 400, "predict only"),
    ("http://localhost:8501/v2/whatever", 404, "Malformed request"),
])
def test_a_uri_naming_another_model_version_or_verb_is_refused(emulator, uri, status, message):
    answer_status, answer = emulator.post(uri, '{"instances": ["a"]}')
    assert answer_status == status and message in json.loads(answer)["error"]


def test_concurrent_calls_each_get_exactly_their_own_rows(emulator, model_dir, texts):
    expected = saved_model_rows(model_dir, texts)

    def call(i: int):  # request i asks for a different slice of 1-3 rows
        rows = texts[i % len(texts): i % len(texts) + 1 + i % 3]
        return i, rows, emulator.predict(URI, json.dumps({"instances": rows}))

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(call, range(64)))
    by_text = dict(zip(texts, expected))
    for _, rows, predictions in answers:
        assert [p["codes"] for p in predictions] == [by_text[t]["codes"] for t in rows]
        np.testing.assert_allclose([p["probabilities"] for p in predictions],
                                   [by_text[t]["probabilities"] for t in rows], rtol=1e-5, atol=1e-7)


class GatedModel:
    """A `run` for MicroBatcher that records each call's rows and, while `gate` is closed, holds the first call."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(self, texts):
        self.entered.set()
        self.gate.wait()
        self.calls.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("the model broke")
        return {"echo": np.array([t.upper() for t in texts], dtype=object)}


def _submit_all(batcher, requests):
    """Submit each list of texts from its own thread; returns {index: (outputs, start, count) or the error}."""
    results, threads = {}, []

    def run(i, texts):
        try:
            results[i] = batcher.submit(texts)
        except Exception as error:  # noqa: BLE001 (the test reads it)
            results[i] = error

    for i, texts in enumerate(requests):
        threads.append(threading.Thread(target=run, args=(i, texts), daemon=True))  # a failure must not hang
        threads[-1].start()
    return results, threads


def _wait_queued(batcher, count):
    while batcher._queue.qsize() < count:  # the worker is held by the gate; wait for the others to queue
        threading.Event().wait(0.01)


def held_batcher(max_batch: int):
    """A batcher whose worker is busy with a first request ["held"] until `release`."""
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch=max_batch, max_wait_s=0)
    _, threads = _submit_all(batcher, [["held"]])
    model.entered.wait()
    return model, batcher, threads


def queue_in_order(batcher, requests):
    """Submit each request once the one before it is queued, so the queue order is known; each request's
    result is results[i][0] once released."""
    results, threads = [], []
    for texts in requests:
        result, thread = _submit_all(batcher, [texts])
        results.append(result)
        threads += thread
        _wait_queued(batcher, len(threads))
    return results, threads


def release(model, results, *thread_lists) -> list:
    """Open the gate, wait for every thread; the results in request order."""
    model.gate.set()
    for threads in thread_lists:
        for thread in threads:
            thread.join()
    return [result[0] for result in results]


def rows_of(result) -> list:
    outputs, start, count = result
    return outputs["echo"][start:start + count].tolist()


def test_requests_queued_while_the_model_runs_go_into_one_call_and_are_split_back():
    model, batcher, held = held_batcher(max_batch=256)
    requests = [["b", "c"], ["d"], ["e", "f", "g"]]
    results, threads = queue_in_order(batcher, requests)
    results = release(model, results, held, threads)
    assert model.calls == [["held"], ["b", "c", "d", "e", "f", "g"]]
    assert [rows_of(result) for result in results] == [[t.upper() for t in texts] for texts in requests]
    assert (batcher.calls, batcher.requests, batcher.rows) == (2, 4, 7)
    batcher.close()


def test_a_batch_never_exceeds_max_batch_and_a_large_request_runs_alone():
    model, batcher, held = held_batcher(max_batch=4)
    results, threads = queue_in_order(batcher, [["a", "b"], ["c", "d", "e", "f", "g", "h"], ["i"], ["j", "k", "l"]])
    results = release(model, results, held, threads)
    assert model.calls == [["held"], ["a", "b"], ["c", "d", "e", "f", "g", "h"], ["i", "j", "k", "l"]]
    assert rows_of(results[1]) == list("CDEFGH")
    batcher.close()


def test_a_failed_call_fails_only_its_own_requests_and_the_worker_keeps_serving():
    model, batcher, held = held_batcher(max_batch=256)
    results, threads = queue_in_order(batcher, [["boom"], ["fine"]])
    results = release(model, results, held, threads)
    assert all(isinstance(result, RuntimeError) for result in results)  # they shared the failing call
    assert rows_of(batcher.submit(["later"])) == ["LATER"]
    batcher.close()


def test_close_finishes_queued_work_then_refuses_new_submits():
    model, batcher, held = held_batcher(max_batch=256)
    results, threads = queue_in_order(batcher, [["a"]])
    closer = threading.Thread(target=batcher.close)
    closer.start()
    results = release(model, results, held, threads, [closer])
    assert model.calls == [["held"], ["a"]] and rows_of(results[0]) == ["A"]
    with pytest.raises(RuntimeError, match="shutting down"):
        batcher.submit(["c"])


def test_a_signature_that_is_not_one_string_vector_is_refused_at_load(tmp_path):
    class Numbers(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.reduce_sum(x, axis=1)}

    module = Numbers()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.serve})
    with pytest.raises(ValueError, match="one string vector input"):
        TFServingEmulator(tmp_path / "1")
