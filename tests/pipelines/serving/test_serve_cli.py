"""`hscode serve` as a user runs it: a clean SIGTERM loses no capture record, the weights file it writes, and
clear errors (exit 2) for no approved model, an unreadable model, a port in use and bad options."""
from __future__ import annotations

import json
import signal
import socket
import threading

import pytest
import requests

from pipelines.cli import build_parser, main
from pipelines.cli.serve import build_endpoint
from pipelines.registry import LocalRegistry
from tests.pipelines.serving.serve_fixtures import InProcessServe, ServeProcess


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    return home


def test_sigterm_finishes_in_flight_requests_and_writes_every_capture_record(tmp_path, model_tar, home):
    capture = tmp_path / "capture"
    served = []
    with ServeProcess("--model", str(model_tar), "--capture-dir", str(capture),
                      home=home, work=tmp_path / "run") as server:
        def client(k: int):
            for i in range(10):
                rows = ["steel screws"] if i % 2 else ["cotton shirt", f"wooden chair {k}", 7]
                response = requests.post(f"{server.url}/invocations", json={"instances": rows}, timeout=60)
                assert response.status_code == 200
                served.append(response.json()["predictions"])

        clients = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        status, stdout, stderr = server.stop(signal.SIGTERM)
    assert status == 0, stderr
    assert "stopped; 40 requests answered, capture written 40, failed 0, pending 0" in stdout
    records = [json.loads(line) for path in sorted(capture.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    assert len(records) == 40
    captured = {r["eventMetadata"]["inferenceId"]: json.loads(r["captureData"]["endpointOutput"]["data"])
                for r in records}
    answered = {p[0]["inference_id"].split(":")[0]: {"predictions": p} for p in served}
    assert captured == answered
    assert "Traceback" not in stderr


def test_a_model_that_fails_to_load_stops_the_server_with_exit_1(tmp_path, home, capsys):
    broken = tmp_path / "broken"
    (broken / "1").mkdir(parents=True)
    (broken / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
    status = main(["serve", "--model", str(broken), "--no-capture", "--port", "0"])
    assert status == 1
    assert "the models failed to load" in capsys.readouterr().err


def test_weights_are_written_to_the_endpoints_weights_file(model_dir, model_tar, home):
    with InProcessServe("--model", str(model_dir), "--challenger",
                        str(model_tar), "--weights", "champion=9,challenger=1",
                        "--endpoint-name", "trial", "--no-capture", home=home) as serve:
        weights_file = home / "serving" / "trial" / "weights.json"
        assert serve.endpoint.weights_file == weights_file
        assert json.loads(weights_file.read_text()) == {"challenger": 0.1, "champion": 0.9}
        assert requests.post(f"{serve.url}/endpoints/trial/invocations", json=["a"], timeout=30).status_code == 200


def test_serving_a_version_that_is_not_approved_or_has_no_threshold_warns(model_tar, home, caplog):
    registry = LocalRegistry()
    registry.register("hs-code-classifier", str(model_tar), metrics={"accuracy": 0.5})
    endpoint = build_endpoint(build_parser().parse_args(["serve", "--model", "1", "--port", "0", "--no-capture"]))
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    finally:
        endpoint.sock.close()
        endpoint.frontend.close()
    assert any("version 1 is PendingManualApproval, not Approved" in w for w in warnings)
    assert any("no accept threshold known" in w and "every answer is 'review'" in w for w in warnings)


def test_no_approved_model_says_how_to_approve_one(home, capsys):
    LocalRegistry()  # an empty registry
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hscode serve: error: no approved version")
    assert "hscode registry approve" in err and "--model PATH" in err


def test_an_unreadable_model_is_a_usage_error_before_the_port_is_taken(tmp_path, home, capsys):
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"garbage")
    assert main(["serve", "--model", str(broken)]) == 2
    assert "cannot read model archive" in capsys.readouterr().err


def test_a_port_in_use_is_a_usage_error(model_dir, home, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(model_dir), "--port", str(port)]) == 2
    assert f"port {port} on 127.0.0.1 is in use" in capsys.readouterr().err


@pytest.mark.parametrize("options, message", [
    (["--weights", "champion=1,challenger=1"], "--weights names challenger, which is not served (add --challenger"),
    (["--weights", "champion=x"], "not a number"),
    (["--accept-threshold", "1.5"], "--accept-threshold 1.5"),
    (["--port", "70000"], "--port 70000"),
])
def test_bad_options_are_usage_errors(model_dir, home, capsys, options, message):
    assert main(["serve", "--model", str(model_dir), *options]) == 2
    assert message in capsys.readouterr().err


def _start(*argv: str):
    endpoint = build_endpoint(build_parser().parse_args(["serve", "--port", "0", "--no-capture", *argv]))
    endpoint.sock.close()
    endpoint.frontend.close()
    return endpoint


def test_a_restart_keeps_moved_weights_for_the_same_versions_and_resets_them_for_new_ones(model_dir, model_tar, home):
    pair = ("--model", str(model_dir), "--challenger", str(model_tar))
    first = _start(*pair, "--weights", "champion=9,challenger=1")
    assert first.weights_origin == "from --weights"
    first.weights_file.write_text(json.dumps({"champion": 1, "challenger": 1}))  # as the A/B job moves them

    again = _start(*pair)
    assert again.weights == {"champion": 0.5, "challenger": 0.5}
    assert again.weights_origin == "kept from the last start: same model versions"

    swapped = _start("--model", str(model_tar), "--challenger", str(model_dir))
    assert swapped.weights == {"champion": 1.0, "challenger": 0.0} and swapped.weights_origin == "all on the champion"
    assert json.loads(swapped.weights_file.read_text()) == {"champion": 1.0, "challenger": 0.0}
