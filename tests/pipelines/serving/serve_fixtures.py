"""Real `hscode serve` endpoints for tests: in this process (a thread) or as a subprocess, on a free port.

Both serve a small real model (tests/steps/model_fixtures.py: trained and exported once per test process, so its
code/ holds this checkout's hook).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from pipelines.cli import build_parser
from pipelines.cli.serve import LocalEndpoint, build_endpoint
from steps.hsml.export import pack_model_dir
from tests.steps.model_fixtures import trained_model_dir

READY_TIMEOUT_S = 180  # loading TensorFlow on a busy 2-core machine; only ever waited for, never asserted on


def tiny_model_dir(tmp_path_factory) -> Path:
    """The exported test model dir (the same one tests/steps/test_export.py uses: trained once per session)."""
    return trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))[0]


def tiny_model_tar(tmp_path_factory) -> Path:
    tar = tmp_path_factory.getbasetemp() / "shared-model-tar" / "model.tar.gz"
    if not tar.exists():
        pack_model_dir(tiny_model_dir(tmp_path_factory), tar)
    return tar


def wait_for_ping(url: str, alive=lambda: True) -> dict:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if not alive():
            raise AssertionError(f"the server at {url} stopped before /ping answered 200")
        try:
            response = requests.get(f"{url}/ping", timeout=5)
            if response.status_code == 200:
                return response.json()
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}/ping did not answer 200 within {READY_TIMEOUT_S} s")


class InProcessServe:
    """`hscode serve <args>` built by the CLI's own build_endpoint, run in a thread of this process."""

    def __init__(self, *args: str, home: Path):
        self.args = ["serve", "--port", "0", *args]
        self.home = home
        self.endpoint: LocalEndpoint | None = None
        self.thread: threading.Thread | None = None

    def start(self, wait: bool = True) -> InProcessServe:
        previous = os.environ.get("HSCODE_HOME")
        os.environ["HSCODE_HOME"] = str(self.home)
        try:
            self.endpoint = build_endpoint(build_parser().parse_args(self.args))
        finally:
            if previous is None:
                os.environ.pop("HSCODE_HOME", None)
            else:
                os.environ["HSCODE_HOME"] = previous
        self.thread = threading.Thread(target=self.endpoint.run, name="hscode-serve-test", daemon=True)
        self.thread.start()
        if wait:
            wait_for_ping(self.url, self.thread.is_alive)
        return self

    @property
    def url(self) -> str:
        return self.endpoint.url

    def stop(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            self.endpoint.stop()
            self.thread.join(timeout=120)

    def __enter__(self) -> InProcessServe:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class ServeProcess:
    """`hscode serve <args>` as its own process (what a user runs); stdout and stderr go to files in `work`."""

    def __init__(self, *args: str, home: Path, work: Path):
        self.args, self.home, self.work = ["serve", "--port", "0", *args], home, work
        self.process: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self) -> ServeProcess:
        self.work.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = self.work / "serve.stdout", self.work / "serve.stderr"
        script = "import sys; from pipelines.cli import main; sys.exit(main(sys.argv[1:]))"
        self.process = subprocess.Popen(
            [sys.executable, "-c", script, *self.args], stdout=self.stdout_path.open("w"),
            stderr=self.stderr_path.open("w"), env={**os.environ, "HSCODE_HOME": str(self.home)})
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.url is None and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"hscode serve exited {self.process.returncode}: {self.stderr_path.read_text()}")
            for line in self.stdout_path.read_text().splitlines():
                if line.startswith("hscode serve: http://"):
                    self.url = line.split()[2]
            time.sleep(0.05)
        wait_for_ping(self.url, lambda: self.process.poll() is None)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send `sig`, wait for the exit: (exit status, stdout, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, self.stdout_path.read_text(), self.stderr_path.read_text()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.stop(signal.SIGKILL)
