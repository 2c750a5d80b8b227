"""Killing the runner mid-step leaves the store and the registry consistent, and retry then works."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.local import records as rec
from pipelines.registry import LocalRegistry
from tests.pipelines.local import fake_pipeline

REPO = Path(__file__).resolve().parents[3]
RUN = """
import io, sys
from pathlib import Path
from pipelines.local.progress import Console
from pipelines.local.runner import LocalRunner
from tests.pipelines.local import fake_pipeline
record = LocalRunner(fake_pipeline.definition(preprocess_sleep=60), Path(sys.argv[1]), Console()).start({"QualityThreshold": "0"})
print("FINAL", record.status, flush=True)
"""


def _wait_for(predicate, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_step_stops_cleanly_and_retry_completes(home, fake_store, make_runner, sig):
    runner = subprocess.Popen([sys.executable, "-c", RUN, str(home)], cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    executions = home / "executions"

    def preprocess_running():
        logs = list(executions.glob("*/logs/Preprocess.log"))
        return bool(logs) and "rows" in logs[0].read_text()

    assert _wait_for(preprocess_running), "the fake preprocess never started"
    runner.send_signal(sig)
    output = runner.communicate(timeout=60)[0].decode()
    assert "FINAL Stopped" in output

    (record,) = rec.ExecutionStore(home).list()
    assert record.status == rec.STOPPED
    assert record.steps["Preprocess"].status == rec.STOPPED
    # The job's process group is gone, no output was published and nothing half-written is left.
    job_pids = subprocess.run(["pgrep", "-f", "--", "--sleep 60"], capture_output=True, text=True).stdout.split()
    assert not any(Path(f"/proc/{pid}/cwd").resolve().is_relative_to(home) for pid in job_pids if Path(f"/proc/{pid}").exists())
    assert not fake_store.path_for(f"s3://{fake_pipeline.BUCKET}/p/{record.execution_id}").exists()
    assert not [p for p in (home / "store").rglob("*") if ".tmp-" in p.name]
    assert LocalRegistry(home=home).list_versions("fake-group") == []
    json.loads((executions / record.execution_id / "execution.json").read_text())  # complete, parseable

    fast = make_runner(fake_pipeline.definition(preprocess_sleep=0))
    retried = fast.retry(record.execution_id)
    assert retried.status == rec.SUCCEEDED, retried.failure_reason
    assert len(LocalRegistry(home=home).list_versions("fake-group")) == 1
