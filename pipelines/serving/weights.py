"""Where the variant weights live, so that new weights apply without a restart (the A/B job writes them).

Two back ends, one interface: a JSON file on this machine and an SSM parameter on AWS. Both hold the same text,
a JSON object `{"champion": 0.8, "challenger": 0.2}`; the SSM parameter may also hold `champion=0.8,...`.
A store that cannot be read after it was read once keeps answering the last good weights (logged), so a
half-edited file or an SSM hiccup never stops the traffic.

stdlib + boto3 only: the AWS Lambda router ships this module.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path

from pipelines.serving.routing import normalise_weights, parse_weights
from steps.hsml.cli_errors import UsageError

log = logging.getLogger(__name__)


def weights_from_text(text: str, where: str) -> dict[str, float]:
    """JSON object or 'name=weight,...' -> normalised weights; UsageError names `where` and the problem."""
    stripped = text.strip()
    try:
        if stripped[:1] in ("{", "["):
            payload = json.loads(stripped)
            if not isinstance(payload, dict):
                raise UsageError("expected a JSON object of variant -> weight")
            return normalise_weights(payload)
        return parse_weights(stripped)
    except (UsageError, ValueError) as error:
        raise UsageError(f"weights in {where}: {error}") from None


def weights_text(weights: Mapping[str, float]) -> str:
    return json.dumps(normalise_weights(weights), indent=2, sort_keys=True) + "\n"


class WeightsStore(ABC):
    """Read (cheaply, on every request) and write the weights of one endpoint's variants."""

    @abstractmethod
    def read(self) -> dict[str, float]:
        """The current weights, normalised; UsageError when there are none yet and none can be read."""

    @abstractmethod
    def write(self, weights: Mapping[str, float]) -> None:
        """Replace the weights (checked first; UsageError for bad ones)."""


class LocalWeightsStore(WeightsStore):
    """A JSON file, re-read when its modification time changes; written atomically (rename)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._weights: dict[str, float] | None = None

    def read(self) -> dict[str, float]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            if self._weights is not None:
                return dict(self._weights)
            raise UsageError(f"no weights file at {self.path}: write one, e.g. "
                             '{"champion": 0.8, "challenger": 0.2}, or pass --weights') from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return dict(self._weights)

    def _reload(self, stamp: tuple[int, int]) -> None:
        try:
            weights = weights_from_text(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, UsageError) as error:
            if self._weights is None:
                raise UsageError(str(error)) from None
            log.warning("%s; still routing by the last good weights %s", error, self._weights)
            self._stamp = stamp  # do not re-read a broken file on every request; its next change is read
            return
        self._weights, self._stamp = weights, stamp

    def write(self, weights: Mapping[str, float]) -> None:
        text = weights_text(weights)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class SsmWeightsStore(WeightsStore):
    """An SSM String parameter, read at most once per `ttl_seconds` (a Lambda keeps it between invocations)."""

    def __init__(self, client, parameter_name: str, ttl_seconds: float = 10,
                 clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.parameter_name = parameter_name
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._weights: dict[str, float] | None = None
        self._read_at = float("-inf")

    def read(self) -> dict[str, float]:
        with self._lock:
            if self._weights is None or self._clock() - self._read_at >= self.ttl_seconds:
                self._refresh()
            return dict(self._weights)

    def _refresh(self) -> None:
        where = f"SSM parameter {self.parameter_name}"
        try:
            value = self.client.get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
            weights = weights_from_text(value, where)
        except Exception as error:  # botocore's errors, or bad text: keep serving on the last good weights
            if self._weights is None:
                raise UsageError(f"cannot read the weights from {where}: {error}") from None
            log.warning("cannot refresh the weights from %s (%s); still routing by %s", where, error, self._weights)
        else:
            self._weights = weights
        self._read_at = self._clock()

    def write(self, weights: Mapping[str, float]) -> None:
        text = weights_text(weights)
        self.client.put_parameter(Name=self.parameter_name, Value=text, Type="String", Overwrite=True)
        with self._lock:
            self._weights, self._read_at = normalise_weights(weights), self._clock()
