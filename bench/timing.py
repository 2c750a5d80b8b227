"""Serving cost of a predictor: single-description latency, batch throughput and size on disk."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

WARMUP_CALLS = 10


def single_latency_ms(predictor, descriptions: Sequence[str], calls: int = 200, k: int = 5) -> tuple[float, float]:
    """(p50, p99) milliseconds of `predict([one description], k)`, cycling through the given descriptions."""
    for i in range(min(WARMUP_CALLS, calls)):  # first calls build graphs / caches: not what a warm server sees
        predictor.predict([descriptions[i % len(descriptions)]], k)
    timings = []
    for i in range(calls):
        started = time.perf_counter()
        predictor.predict([descriptions[i % len(descriptions)]], k)
        timings.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def batch_throughput(predictor, descriptions: Sequence[str], rows: int = 4096, batch_size: int = 1024,
                     k: int = 5) -> float:
    """Descriptions per second when scoring `rows` descriptions in batches of `batch_size`."""
    pool = list(descriptions) * (rows // max(1, len(descriptions)) + 1)
    pool = pool[:rows]
    predictor.predict(pool[:batch_size], k)  # warm-up at the real batch shape
    started = time.perf_counter()
    for start in range(0, len(pool), batch_size):
        predictor.predict(pool[start : start + batch_size], k)
    return len(pool) / (time.perf_counter() - started)


def size_mb(*paths: str | Path) -> float:
    """Bytes on disk of files and folders (recursively), in MB (10^6 bytes)."""
    total = 0
    for path in map(Path, paths):
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total / 1e6
