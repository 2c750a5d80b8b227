"""Shared pieces for the front-end tests: the real HS 2022 normaliser and a scripted variant back end.

The back end stands in for a model (the front end's own logic is what these tests exercise): it reads the body
with the same parse_descriptions and per-row check as the model's hook, and answers a fixed code per good row.
"""
from __future__ import annotations

import functools
import json

from pipelines.serving.frontend import InvokeResult
from pipelines.settings import HS2022_NOMENCLATURE
from steps.hsml.descriptions import check_description
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes
from steps.hsml.serving.inference import parse_descriptions


@functools.lru_cache(maxsize=1)
def normalizer() -> HSCodeNormalizer:
    return HSCodeNormalizer(load_hs6_codes(HS2022_NOMENCLATURE))


class ScriptedBackend:
    """Answers every good row with `codes`/`probabilities` (per variant), a bad row with its check's error."""

    def __init__(self, probabilities: dict[str, float] | None = None, fail_with: Exception | None = None):
        self.probabilities = probabilities or {}
        self.fail_with = fail_with
        self.calls: list[tuple[str, bytes, str, str | None]] = []

    def invoke(self, variant: str, body: bytes, content_type: str, custom_attributes: str | None) -> InvokeResult:
        self.calls.append((variant, body, content_type, custom_attributes))
        if self.fail_with is not None:
            raise self.fail_with
        top = self.probabilities.get(variant, 0.9)
        entries = []
        for row in parse_descriptions(body, content_type):
            _, error = check_description(row)
            entries.append({"error": error} if error else {"codes": ["610910", "610990"],
                                                            "probabilities": [top, 1 - top]})
        return InvokeResult(json.dumps({"predictions": entries}).encode(), "application/json", f"{variant}-v1")

