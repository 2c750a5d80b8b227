"""SageMaker TensorFlow Serving pre/post-processing hook (copied into the model dir's code/ at export).

The SavedModel's graph only lowercases and splits on whitespace; the full text normalisation (NFKC, HTML entities,
units, ...) is Python, so it runs here, with the very same `normalize_description` the training data went through
(code/hsml_text.py is a verbatim copy of steps/hsml/text.py).

Request bodies accepted (Content-Type application/json): {"instances": [...]}, {"inputs": [...]},
{"descriptions": [...]}, a JSON list of strings or one JSON string; text/csv or text/plain: one description a line.
Response: {"predictions": [{"codes": [...], "probabilities": [...]}, ...]}, one entry per description, in order.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:  # the copy shipped next to this file in the model dir
    from hsml_text import normalize_description
except ImportError:  # running from the source tree (tests)
    from steps.hsml.text import normalize_description

MAX_DESCRIPTION_CHARS = 10_000


def parse_descriptions(body: bytes | str, content_type: str) -> list:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    content_type = (content_type or "application/json").split(";")[0].strip().lower()
    if content_type == "application/json":
        payload = json.loads(body)
        if isinstance(payload, dict):
            for key in ("instances", "inputs", "descriptions"):
                if key in payload:
                    payload = payload[key]
                    break
            else:
                raise ValueError('JSON body must hold "instances", "inputs" or "descriptions": a list of strings')
        return [payload] if isinstance(payload, str) else list(payload)
    if content_type in ("text/csv", "text/plain"):
        return [row[0] if row else "" for row in csv.reader(io.StringIO(body))] if content_type == "text/csv" \
            else body.splitlines()
    raise ValueError(f"unsupported content type {content_type!r}: send application/json, text/csv or text/plain")


def prepare_instances(descriptions: list) -> list[str]:
    """Normalise every description; a bad row fails the request with a message naming the row."""
    instances = []
    for row, description in enumerate(descriptions):
        if not isinstance(description, str):
            raise TypeError(f"row {row}: description must be a string, got {type(description).__name__}")
        if len(description) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"row {row}: description has {len(description)} characters (limit "
                             f"{MAX_DESCRIPTION_CHARS}); send one product description per row")
        normalised = normalize_description(description)
        if not normalised:
            raise ValueError(f"row {row}: description {description[:40]!r} is empty after normalisation")
        instances.append(normalised)
    return instances


def input_handler(data, context):
    body = data.read() if hasattr(data, "read") else data
    instances = prepare_instances(parse_descriptions(body, getattr(context, "request_content_type", None)))
    return json.dumps({"signature_name": "serving_default", "instances": instances})


def output_handler(response, context):
    if response.status_code != 200:
        raise ValueError(response.content.decode("utf-8"))
    predictions = json.loads(response.content)["predictions"]
    rows = [{"codes": list(p["codes"]), "probabilities": [float(x) for x in p["probabilities"]]} for p in predictions]
    return json.dumps({"predictions": rows}), "application/json"
