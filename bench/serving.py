"""Load and behaviour benchmark of `hscode serve` on loopback: throughput, latency, errors, capture completeness.

    python -m bench.serving                          # the latest approved model of $HSCODE_HOME (after `make run` + approve)
    python -m bench.serving --model PATH/model.tar.gz --seconds 20 --out bench/results

It starts `hscode serve` as its own process (capture on, into a scratch folder), drives it with `wrk` (C, one
thread, so the load generator does not starve a 2-core server; its CPU time is measured and reported), then stops
the server with SIGTERM and counts the capture records on disk against the requests the server answered.

Scenarios: single-description requests at concurrency 1, 8 and 32, and requests of 64 descriptions at
concurrency 4. Each request body is drawn in turn from real descriptions (the bundled dataset's test_fpo rows),
so the model sees realistic text, not one cached string. Writes serving.md and serving.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from pipelines import settings

SCENARIOS = (  # (name, descriptions per request, concurrent connections)
    ("single, concurrency 1", 1, 1),
    ("single, concurrency 8", 1, 8),
    ("single, concurrency 32", 1, 32),
    ("batch of 64, concurrency 4", 64, 4),
)
TARGETS = {
    "p50 at concurrency 1 (ms)": ("single, concurrency 1", "p50_ms", "<=", 3.0),
    "req/s at concurrency 32": ("single, concurrency 32", "requests_per_s", ">=", 1000.0),
    "p99 at concurrency 32 (ms)": ("single, concurrency 32", "p99_ms", "<=", 50.0),
    "descriptions/s batched": ("batch of 64, concurrency 4", "descriptions_per_s", ">=", 5000.0),
}
BODIES_PER_SCENARIO = 512

# wrk's Lua side: rotate through the prepared bodies, print one JSON line of totals and percentiles at the end.
WRK_SCRIPT = r"""
local bodies = {}
local index = 0
for line in io.lines(os.getenv("HSCODE_BENCH_BODIES")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  index = index % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[index])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


@dataclass
class ScenarioResult:
    name: str
    descriptions_per_request: int
    connections: int
    seconds: float
    requests: int
    errors: int
    requests_per_s: float
    descriptions_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    load_generator_cpu_s: float


def real_descriptions() -> list[str]:
    frame = pd.read_csv(settings.BUNDLED_DATASET, dtype=str, keep_default_na=False)
    texts = frame.loc[frame["split"] == "test_fpo", "description"].tolist()
    return texts or frame["description"].head(1000).tolist()


def request_bodies(descriptions: list[str], per_request: int, count: int) -> list[str]:
    bodies = []
    for i in range(count):
        start = (i * per_request) % len(descriptions)
        rows = [descriptions[(start + j) % len(descriptions)] for j in range(per_request)]
        bodies.append(json.dumps({"instances": rows}))
    return bodies


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_ready(url: str, server: subprocess.Popen, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"hscode serve exited with status {server.returncode} before answering /ping")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"hscode serve did not answer /ping within {timeout_s:.0f} s")


def run_wrk(url: str, script: Path, bodies_file: Path, connections: int, seconds: float) -> tuple[dict, float]:
    """One wrk run; returns its JSON totals and the CPU seconds wrk itself used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(script),
         f"{url}/invocations"],
        capture_output=True, text=True, env={**os.environ, "HSCODE_BENCH_BODIES": str(bodies_file)}, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    totals = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    return totals, cpu


def scenario(url: str, work: Path, descriptions: list[str], name: str, per_request: int, connections: int,
             seconds: float) -> ScenarioResult:
    bodies_file = work / f"bodies-{per_request}.jsonl"
    bodies_file.write_text("\n".join(request_bodies(descriptions, per_request, BODIES_PER_SCENARIO)) + "\n")
    script = work / "bench.lua"
    script.write_text(WRK_SCRIPT)
    run_wrk(url, script, bodies_file, connections, 2)  # warm-up: graph tracing, batcher, connection pools
    totals, cpu = run_wrk(url, script, bodies_file, connections, seconds)
    duration = totals["duration_us"] / 1e6
    errors = sum(totals[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return ScenarioResult(
        name=name, descriptions_per_request=per_request, connections=connections, seconds=round(duration, 1),
        requests=totals["requests"], errors=errors, requests_per_s=round(totals["requests"] / duration, 1),
        descriptions_per_s=round(totals["requests"] * per_request / duration, 1),
        p50_ms=totals["p50_us"] / 1000, p95_ms=totals["p95_us"] / 1000, p99_ms=totals["p99_us"] / 1000,
        max_ms=totals["max_us"] / 1000, load_generator_cpu_s=round(cpu, 2),
    )


def count_capture_records(capture_root: Path) -> int:
    return sum(sum(1 for line in path.open(encoding="utf-8") if line.strip())
               for path in capture_root.rglob("*.jsonl"))


def served_requests(url: str) -> int | None:
    """Requests the server answered, from its own /metrics (None if it does not say)."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        stats = json.loads(response.read())
    for key in ("requests", "requests_total"):
        if isinstance(stats.get(key), int):
            return stats[key]
    return None


def verdicts(results: list[ScenarioResult]) -> list[dict]:
    by_name = {r.name: r for r in results}
    rows = []
    for label, (name, field, comparison, target) in TARGETS.items():
        value = getattr(by_name[name], field)
        met = value <= target if comparison == "<=" else value >= target
        rows.append({"target": label, "goal": f"{comparison} {target:g}", "measured": value, "met": met})
    return rows


def markdown(results: list[ScenarioResult], capture: dict, context: dict) -> str:
    lines = [
        "# Serving benchmark (`hscode serve` on loopback)",
        "",
        f"Generated by `{context['command']}` on {context['date']}: {context['cpus']} CPU cores "
        f"({context['machine']}), model `{context['model']}`, {context['seconds']:.0f} s per scenario after a "
        "2 s warm-up. Load from `wrk` (one thread, in its own process); its CPU time is in the last column. "
        "Request bodies rotate through real test_fpo descriptions. Capture was on.",
        "",
        "| scenario | req/s | descriptions/s | p50 ms | p95 ms | p99 ms | max ms | requests | errors | wrk CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r.name} | {r.requests_per_s:,.0f} | {r.descriptions_per_s:,.0f} | {r.p50_ms:.2f} | "
                     f"{r.p95_ms:.2f} | {r.p99_ms:.2f} | {r.max_ms:.1f} | {r.requests:,} | {r.errors} | "
                     f"{r.load_generator_cpu_s:.1f} |")
    lines += ["", "## Targets (2 cores)", "", "| target | goal | measured | met |", "|---|---|---|---|"]
    for v in verdicts(results):
        lines.append(f"| {v['target']} | {v['goal']} | {v['measured']:,.2f} | {'yes' if v['met'] else '**no**'} |")
    lost = capture["requests_served"] - capture["records_written"] if capture["requests_served"] is not None else None
    lines += [
        "", "## Capture", "",
        f"Requests the server answered (its /metrics, warm-ups included): {capture['requests_served']}; capture "
        f"records on disk after SIGTERM: {capture['records_written']}; lost: {lost}. "
        f"Server exit status after SIGTERM: {capture['server_exit']}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="latest-approved", help="registry ref or model path (hscode serve --model)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per scenario")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench.serving needs wrk (Debian: apt-get install wrk)")

    work = Path(tempfile.mkdtemp(prefix="hscode-bench-serving-"))
    capture_root = work / "capture"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hscode = Path(sys.executable).parent / "hscode"
    server = subprocess.Popen(
        [str(hscode), "serve", "--model", args.model, "--port", str(port), "--capture-dir", str(capture_root),
         "--ground-truth-dir", str(work / "ground-truth")],
        stdout=(work / "server.log").open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_ready(url, server)
        descriptions = real_descriptions()
        results = []
        for name, per_request, connections in SCENARIOS:
            print(f"{name} ...", flush=True)
            results.append(scenario(url, work, descriptions, name, per_request, connections, args.seconds))
            print(f"  {results[-1]}", flush=True)
        time.sleep(2)  # requests wrk left in flight when it stopped still finish (and are captured)
        served = served_requests(url)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    capture = {"requests_served": served, "records_written": count_capture_records(capture_root),
               "server_exit": server.returncode}
    context = {"command": "python -m bench.serving" + (f" --model {args.model}" if args.model != "latest-approved" else ""),
               "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "machine": platform.machine(),
               "model": args.model, "seconds": args.seconds}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps({"context": context, "scenarios": [asdict(r) for r in results],
                                                  "targets": verdicts(results), "capture": capture}, indent=2) + "\n")
    (out / "serving.md").write_text(markdown(results, capture, context))
    print((out / "serving.md").read_text())
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
