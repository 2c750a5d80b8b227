"""SageMaker TensorFlow Serving hook (export copies it into the model dir's code/, with the modules it imports).

The SavedModel's graph only lowercases and splits on whitespace; the full text normalisation (NFKC, HTML entities,
units, ...) is Python, so it runs here, with the very same per-row check and `normalize_description` the
predictor and training use: export copies steps/hsml/descriptions.py and text.py into code/steps/hsml/, so the
import below is the same line in the source tree and in the container (where code/ is on the Python path).

The container calls `handler(data, context)` when the hook defines it (instead of input_handler/output_handler).
We need that: only the good rows go to TF Serving (`context.rest_uri`), and each bad row gets its own error in
its place in the answer, the same rule as the predictor's.

Request bodies: application/json {"instances": [...]}, {"inputs": [...]}, {"descriptions": [...]}, a JSON list
of strings or one JSON string; application/jsonlines: one such JSON value a line (rows in line order);
text/csv (first column) or text/plain: one description a line. Explanations on request: a JSON object body with
"explain": true, or (any content type) the custom attribute `explain=true` in X-Amzn-SageMaker-Custom-Attributes.
Response: {"predictions": [...]}, one entry per description, in order: {"codes": [...], "probabilities": [...],
"hs4_codes", "hs4_probabilities", "hs2_codes", "hs2_probabilities" (the model's parent levels, when it has them),
"vague", "vague_score" (when the model carries a vague detector: vagueness.json beside code/), "explanation"
(when asked: steps/hsml/explain.py, one entry per top code)} or {"error": "what is wrong with this row"}.
A request that cannot be read at all (unparsable body, unsupported content type) or a TF Serving failure fails
the whole request: the container answers 500 {"error": message}.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # code/: the copied steps/hsml modules
from steps.hsml import explain as explain_module  # noqa: E402
from steps.hsml.descriptions import check_description  # noqa: E402
from steps.hsml.vagueness import VagueDetector  # noqa: E402

SIGNATURE = "serving_default"
SCORE_SIGNATURE = "score_codes"  # steps/hsml/export.py: (descriptions, codes) -> probabilities
TFS_TIMEOUT_SECONDS = 50  # under the 60 s SageMaker gives an invocation
MAX_EXPLAINED_ROWS = 100  # explanations cost (words + 1) x 3 scored texts a row: keep a request's bounded
SCORE_CHUNK = 4096  # scored texts per TF Serving call
PARENT_OUTPUTS = ("hs4_codes", "hs4_probabilities", "hs2_codes", "hs2_probabilities")
# The model dir holds code/ (this file's folder) and, when data preparation fitted one, vagueness.json.
VAGUENESS_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "vagueness.json")
_EXPLAIN_ATTRIBUTE = re.compile(r"(?:^|[,;\s])explain=(true|1|yes)(?:$|[,;\s])", re.IGNORECASE)
_detector_cache: list = []


def vague_detector():
    """The model's vague detector, read once; None when the model has none."""
    if not _detector_cache:
        detector = None
        if os.path.isfile(VAGUENESS_PATH):
            with open(VAGUENESS_PATH, encoding="utf-8") as handle:
                detector = VagueDetector.from_dict(json.load(handle))
        _detector_cache.append(detector)
    return _detector_cache[0]


def wants_explanation(body: bytes | str, content_type: str | None, custom_attributes: str | None) -> bool:
    """"explain": true in a JSON object body, or explain=true among the custom attributes."""
    if custom_attributes and _EXPLAIN_ATTRIBUTE.search(custom_attributes):
        return True
    if (content_type or "application/json").split(";")[0].strip().lower() != "application/json":
        return False
    try:
        payload = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except ValueError:
        return False  # parse_descriptions words the error
    return isinstance(payload, dict) and payload.get("explain") is True


def parse_descriptions(body: bytes | str, content_type: str | None) -> list:
    """The request's rows; raises ValueError for a body that cannot be read as a list of rows."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    content_type = (content_type or "application/json").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _json_rows(json.loads(body))
    if content_type == "application/jsonlines":
        return _json_lines_rows(body)
    if content_type == "text/csv":
        return [row[0] if row else "" for row in csv.reader(io.StringIO(body))]
    if content_type == "text/plain":
        return body.splitlines()
    raise ValueError(f"unsupported content type {content_type!r}: send application/json, application/jsonlines, "
                     "text/csv or text/plain")


def _json_rows(payload) -> list:
    """Rows of one JSON value: a string, a list, or an object holding one of those under a known key."""
    if isinstance(payload, dict):
        for key in ("instances", "inputs", "descriptions"):
            if key in payload:
                payload = payload[key]
                break
        else:
            raise ValueError('JSON body must hold "instances", "inputs" or "descriptions": a list of strings')
    if isinstance(payload, str):
        return [payload]
    if not isinstance(payload, list):
        raise ValueError(f"JSON body must be a list of descriptions, got {type(payload).__name__}")
    return payload


def _json_lines_rows(body: str) -> list:
    """application/jsonlines: one JSON value per line, a string, a list or an object as above; any other value
    (a number, null) is one row, which the per-row check refuses on its own. Blank lines are skipped."""
    rows = []
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
            rows += _json_rows(payload) if isinstance(payload, (str, list, dict)) else [payload]
        except ValueError as error:  # json.JSONDecodeError is a ValueError
            raise ValueError(f"application/jsonlines line {number}: {error}") from error
    return rows


def tfs_request(texts: list[str]) -> str:
    """The TF Serving REST body for normalised texts."""
    return json.dumps({"signature_name": SIGNATURE, "instances": texts})


def merge_predictions(checked: list[tuple[str | None, str | None]], predictions: list[dict],
                      detector: VagueDetector | None = None) -> list[dict]:
    """One entry per request row, in order: TF Serving's answer for a good row (with its vagueness when there is
    a detector), {"error": ...} for a bad one."""
    good_rows = sum(error is None for _, error in checked)
    if len(predictions) != good_rows:
        raise RuntimeError(f"TensorFlow Serving returned {len(predictions)} predictions for {good_rows} rows")
    answers = iter(predictions)
    merged = []
    for text, error in checked:
        if error is not None:
            merged.append({"error": error})
            continue
        answer = next(answers)
        entry = {"codes": list(answer["codes"]), "probabilities": [float(p) for p in answer["probabilities"]]}
        for name in PARENT_OUTPUTS:
            if name in answer:
                entry[name] = [float(v) for v in answer[name]] if name.endswith("probabilities") else list(answer[name])
        if detector is not None:
            score = detector.score(text)
            entry["vague"], entry["vague_score"] = score >= detector.threshold, round(score, 6)
        merged.append(entry)
    return merged


def add_explanations(rest_uri: str, checked, merged: list[dict]) -> None:
    """Each good row's "explanation": occlusion weights of its top codes, all variants in one TF Serving call to
    the score_codes signature."""
    rows = [(text, entry) for (text, error), entry in zip(checked, merged) if error is None]
    if len(rows) > MAX_EXPLAINED_ROWS:
        raise ValueError(f"explanations are given for at most {MAX_EXPLAINED_ROWS} descriptions a request, this one "
                         f"has {len(rows)}: split it, or ask without \"explain\"")
    texts = [text for text, _ in rows]
    codes = [entry["codes"][:explain_module.DEFAULT_TOP_CODES] for _, entry in rows]

    def score(variants: list[str], variant_codes: list[str]) -> list[float]:
        scores: list[float] = []
        for start in range(0, len(variants), SCORE_CHUNK):
            pairs = zip(variants[start : start + SCORE_CHUNK], variant_codes[start : start + SCORE_CHUNK])
            body = json.dumps({"signature_name": SCORE_SIGNATURE,
                               "instances": [{"descriptions": t, "codes": c} for t, c in pairs]})
            answers = post_to_tf_serving(_score_uri(rest_uri), body)
            scores += [float(a["probabilities"]) if isinstance(a, dict) else float(a) for a in answers]
        return scores

    for (_, entry), explained in zip(rows, explain_module.explain(texts, codes, score)):
        entry["explanation"] = explained


def _score_uri(rest_uri: str) -> str:
    """The predict URI of the same model (the container's rest_uri may name another verb)."""
    base = rest_uri.rsplit(":", 1)[0] if rest_uri.rsplit(":", 1)[-1].isalpha() else rest_uri
    return base + ":predict"


def post_to_tf_serving(rest_uri: str, body: str) -> list[dict]:
    import requests  # in the serving container; imported here so the rest of the hook needs nothing installed

    response = requests.post(rest_uri, data=body, timeout=TFS_TIMEOUT_SECONDS)
    if response.status_code != 200:
        raise RuntimeError(f"TensorFlow Serving answered {response.status_code}: {response.text[:500]}")
    return json.loads(response.content)["predictions"]


def handler(data, context):
    """The container's entry point: (request stream, context) -> (JSON body, content type)."""
    body = data.read() if hasattr(data, "read") else data
    content_type = getattr(context, "request_content_type", None)
    checked = [check_description(d) for d in parse_descriptions(body, content_type)]
    texts = [text for text, error in checked if error is None]
    predictions = post_to_tf_serving(context.rest_uri, tfs_request(texts)) if texts else []
    merged = merge_predictions(checked, predictions, vague_detector())
    if texts and wants_explanation(body, content_type, getattr(context, "custom_attributes", None)):
        add_explanations(context.rest_uri, checked, merged)
    return json.dumps({"predictions": merged}), "application/json"
