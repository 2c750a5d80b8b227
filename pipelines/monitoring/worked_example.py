"""The A/B worked example of docs/ab-testing.md, end to end on this machine with the bundled data.

    python -m pipelines.monitoring.worked_example [--champion 1] [--challenger 2] [--weight 0.5] [--looks 3]

Needs two registered versions in the local registry ($HSCODE_HOME), e.g. from two `make run`s. It
1. approves the champion if no version is approved yet (hscode serve serves approved versions without a warning);
2. starts `hscode serve --model <champion> --challenger <challenger> --port 0` (all traffic on the champion);
3. `hscode ab start`: the plan, sized from the champion's registered accuracy with the smallest MDE the test split
   can detect, and the weights, which the running server picks up without a restart;
4. sends every row of the labelled test split (the champion's training run's test.csv) to /invocations, one
   request per row, routed by the row's id;
5. posts the true codes to /feedback, as brokers confirming or correcting the answers would;
6. stops the server (capture is flushed), then `hscode ab analyze` and `hscode ab decide`.
Exit status: decide's (0 for promote, keep or continue; 1 for invalid).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipelines import settings
from steps.hsml.cli_errors import JobFailed, UsageError, run_command

PROGRAM = "worked_example"
MDE_GRID = [round(0.01 * k, 2) for k in range(1, 31)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--champion", help="champion version (default: the latest approved, else the oldest)")
    parser.add_argument("--challenger", help="challenger version (default: the newest other version)")
    parser.add_argument("--weight", type=float, default=0.5, help="the challenger's share (default %(default)s)")
    parser.add_argument("--looks", type=int, default=3, help="planned looks (default %(default)s)")
    parser.add_argument("--rows", type=int, help="send only the first N test rows (default: all)")
    parser.add_argument("--group", default=settings.DEFAULT_MODEL_PACKAGE_GROUP)
    args = parser.parse_args(argv)
    return run_command(PROGRAM, lambda: run(args))


def pick_versions(registry, group: str, champion: str | None, challenger: str | None):
    from pipelines.registry.model import APPROVED

    versions = registry.list_versions(group)
    if len(versions) < 2:
        raise UsageError(f"the local registry ({settings.hscode_home()}) holds {len(versions)} version(s) of {group}; "
                         "the example needs two: run `make run` and `make run ARGS='--param MaxTuningJobs=1'`")
    if champion is None:
        approved = registry.latest_approved(group)
        champion = str((approved or versions[0]).version)
    if challenger is None:
        challenger = str(max(v.version for v in versions if str(v.version) != champion))
    first = registry.describe(champion, group)
    if first.status != APPROVED:
        registry.approve(champion, by=PROGRAM, reason="worked example: the champion")
    return registry.describe(champion, group), registry.describe(challenger, group)


def test_split(version):
    """The test split of the run that trained `version` (Preprocess's prepared output in the local store)."""
    from pipelines.local.records import ExecutionStore
    from pipelines.local.store import ArtifactStore
    from steps.hsml.prepared import read_split

    home = settings.hscode_home()
    try:
        record = ExecutionStore(home).load(version.execution_id)
        prepared = record.steps["Preprocess"].outputs["outputs"]["prepared"]
    except Exception as error:  # a version registered by hand has no local execution
        raise UsageError(f"version {version.version}: no local pipeline execution {version.execution_id} with a "
                         f"Preprocess output ({error}); register versions with `make run`") from None
    return read_split(ArtifactStore.under(home).path_for(prepared.rstrip("/") + "/test.csv"))


def smallest_mde(baseline: float, rows_per_arm: int, looks: int, weight: float = 0.5) -> float:
    """The smallest MDE on the grid whose plan (make_plan, as `hscode ab start` makes it) needs at most 90 % of
    `rows_per_arm` labelled rows in the smaller arm."""
    from steps.hsml.ab_plan import make_plan

    weights = {"champion": 1 - weight, "challenger": weight}
    for mde in MDE_GRID:
        if baseline + mde < 1 and make_plan("champion", "challenger", weights, baseline, mde=mde,
                                            looks=looks).max_n_per_arm <= 0.9 * rows_per_arm:
            return mde
    raise UsageError(f"{rows_per_arm} rows per arm cannot detect even +{MDE_GRID[-1]} from {baseline:.3f}")


def start_server(champion: int, challenger: int) -> tuple[subprocess.Popen, str]:
    hscode = shutil.which("hscode") or str(Path(sys.executable).with_name("hscode"))
    server = subprocess.Popen([hscode, "serve", "--model", str(champion), "--challenger", str(challenger),
                               "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = None
    for line in server.stdout:
        print(f"  | {line.rstrip()}")
        if line.startswith("hscode serve: http://"):
            url = line.split()[2]
            break
    if url is None:
        raise JobFailed(f"hscode serve exited ({server.wait()}) before it listened")
    # Keep reading its output (one log line per request would otherwise fill the pipe and stall the server).
    server.lines = []
    server.reader = threading.Thread(target=lambda: server.lines.extend(server.stdout), daemon=True)
    server.reader.start()
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        raise JobFailed("hscode serve did not answer /ping within 5 minutes")
    return server, url


def post(url: str, body, headers: dict[str, str] | None = None):
    """(JSON answer, response headers: case-insensitive lookups)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read()), answer.headers


def run(args) -> int:
    from pipelines.cli import main as hscode
    from pipelines.monitoring.plans import PlanStore
    from pipelines.registry import LocalRegistry

    home = settings.hscode_home()
    if PlanStore(home, "hs-code").running() is not None:
        raise UsageError("an experiment is already running on hs-code: finish it (hscode ab decide) first")
    champion, challenger = pick_versions(LocalRegistry(), args.group, args.champion, args.challenger)
    rows = test_split(champion)
    if args.rows:
        rows = rows.head(args.rows)
    baseline = champion.metrics.get("accuracy")
    if baseline is None:
        raise UsageError(f"champion version {champion.version} has no registered accuracy")
    mde = smallest_mde(baseline, int(len(rows) * min(args.weight, 1 - args.weight)), args.looks, args.weight)
    print(f"1. champion version {champion.version} (accuracy {baseline:.4f}), challenger version "
          f"{challenger.version} (accuracy {challenger.metrics.get('accuracy', float('nan')):.4f}); "
          f"{len(rows):,} test rows")

    print("2. hscode serve, everything on the champion:")
    server, url = start_server(champion.version, challenger.version)
    try:
        print(f"3. hscode ab start --champion {champion.version} --challenger {challenger.version} --weight "
              f"{args.weight} --mde {mde} --looks {args.looks}")
        code = hscode(["ab", "start", "--champion", str(champion.version), "--challenger", str(challenger.version),
                       "--weight", str(args.weight), "--mde", str(mde), "--looks", str(args.looks)])
        if code:
            raise JobFailed(f"hscode ab start exited {code}")
        experiment = PlanStore(home, "hs-code").require_running()["experiment_id"]
        time.sleep(0.1)  # the weights file's new modification time is seen from the next request on

        def predict(item):
            i, description = item
            row_id = f"{experiment}-{i:06d}"
            answer, headers = post(f"{url}/invocations", {"instances": [description]},
                                   {"X-Amzn-SageMaker-Inference-Id": row_id, "X-Hscode-Routing-Key": row_id})
            return row_id, headers.get("X-Amzn-Invoked-Production-Variant")

        print(f"4. {len(rows):,} requests to {url}/invocations ...")
        with ThreadPoolExecutor(max_workers=8) as pool:
            served = list(pool.map(predict, enumerate(rows["description"].tolist())))
        counts = {name: sum(variant == name for _, variant in served) for name in ("champion", "challenger")}
        print(f"   served: {counts}")

        print("5. the brokers' confirmed codes to /feedback ...")
        truth = [{"inference_id": row_id, "hs_code": code} for (row_id, _), code in zip(served, rows["hs_code"])]
        accepted = 0
        for start in range(0, len(truth), 500):
            answer, _ = post(f"{url}/feedback", truth[start:start + 500])
            accepted += answer["counts"]["accepted"]
        print(f"   accepted {accepted:,} labels")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        server.reader.join(timeout=10)
        for line in server.lines:
            if line.startswith("hscode serve:"):
                print(f"  | {line.rstrip()}")

    print("6. hscode ab analyze")
    code = hscode(["ab", "analyze"])
    if code:
        return code
    print("   hscode ab decide")
    return hscode(["ab", "decide"])


if __name__ == "__main__":
    sys.exit(main())
