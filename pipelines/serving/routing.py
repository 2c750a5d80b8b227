"""Which variant answers a request: the caller's TargetVariant if given, else a sticky weighted draw.

Sticky: the draw is the first 8 bytes of sha256(routing key) read as a fraction in [0, 1), placed on the
cumulative weights in sorted variant-name order. The same key (a declaration or broker id, else the request's
inference id) therefore always lands on the same variant for the same weights, in every process, local or Lambda,
and line items of one declaration stay in one arm. A weight-0 variant is reachable only by TargetVariant.

stdlib only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from steps.hsml.cli_errors import UsageError

# SageMaker's rule for production variant names; they also become folder names in the capture layout.
VARIANT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
ROUTING_KEY_HEADER = "x-hscode-routing-key"
CUSTOM_ATTRIBUTES_HEADER = "x-amzn-sagemaker-custom-attributes"
# routing-key=<value> inside CustomAttributes (comma-separated key=value pairs, as the TF Serving container reads
# its tfs-* attributes), the one free-form field boto3's invoke_endpoint sends.
_CUSTOM_ROUTING_KEY = re.compile(r"(?:^|[,;])\s*routing-key=([^,;]*)")


class RoutingError(UsageError):
    """A request names a variant that is not served (the front end answers 400)."""


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Checked weights, summing to 1, in sorted variant-name order; UsageError says what is wrong."""
    if not weights:
        raise UsageError("no variants given: name at least one, e.g. champion=1")
    checked: dict[str, float] = {}
    for name in sorted(weights):
        value = weights[name]
        if not isinstance(name, str) or not VARIANT_NAME.match(name):
            raise UsageError(f"variant name {name!r} is not valid: letters, digits and hyphens, at most 63")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
            raise UsageError(f"weight of variant {name!r} must be a finite number >= 0, got {value!r}")
        checked[name] = float(value)
    total = sum(checked.values())
    if total <= 0:
        raise UsageError(f"the weights {_shown(checked)} sum to 0: give at least one variant a positive weight")
    return {name: value / total for name, value in checked.items()}


def parse_weights(text: str) -> dict[str, float]:
    """'champion=0.8,challenger=0.2' -> {'challenger': 0.2, 'champion': 0.8} (normalised to sum 1)."""
    weights: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"weights {text!r}: expected variant=weight pairs separated by commas, "
                             "e.g. champion=0.8,challenger=0.2")
        if name in weights:
            raise UsageError(f"weights {text!r}: variant {name!r} is given twice")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UsageError(f"weights {text!r}: weight of {name!r} is {value.strip()!r}, not a number") from None
    return normalise_weights(weights)


def sticky_fraction(key: str) -> float:
    """The key's fixed place in [0, 1): the first 8 bytes of its sha256 as a fraction."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") / 2**64


class Router:
    """Weighted, sticky choice of a variant for each request."""

    def __init__(self, weights: Mapping[str, float]):
        self.weights = normalise_weights(weights)
        self.variants = tuple(self.weights)
        self._bounds: list[tuple[float, str]] = []
        cumulative = 0.0
        for name, weight in self.weights.items():
            if weight > 0:
                cumulative += weight
                self._bounds.append((cumulative, name))

    def choose(self, routing_key: str | None, request_id: str, target_variant: str | None = None) -> str:
        if target_variant is not None:
            if target_variant not in self.weights:
                raise RoutingError(f"no variant named {target_variant!r}: this endpoint serves "
                                   f"{', '.join(self.variants)}")
            return target_variant
        fraction = sticky_fraction(routing_key or request_id)
        for bound, name in self._bounds:
            if fraction < bound:
                return name
        return self._bounds[-1][1]  # rounding left the cumulative sum a hair under 1

    def __repr__(self) -> str:
        return f"Router({_shown(self.weights)})"


def routing_key_from(headers: Mapping[str, str]) -> str | None:
    """The request's routing key: X-Hscode-Routing-Key, else routing-key=... in the custom attributes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    key = (lowered.get(ROUTING_KEY_HEADER) or "").strip()
    if key:
        return key
    match = _CUSTOM_ROUTING_KEY.search(lowered.get(CUSTOM_ATTRIBUTES_HEADER) or "")
    return (match.group(1).strip() or None) if match else None


def _shown(weights: Mapping[str, float]) -> str:
    return ",".join(f"{name}={value:g}" for name, value in weights.items())
