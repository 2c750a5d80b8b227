"""A stand-in for TF Serving's REST predict endpoint on 127.0.0.1, for the serving hook's tests."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class FakeTFServing:
    """POST /v1/models/<name>:predict answers `answer(instances)`; every request body is kept in `requests`.

    With `status` other than 200 it answers that status and an error body instead, as TF Serving does."""

    def __init__(self, answer: Callable[[list[str]], list[dict]], status: int = 200):
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                payload = {"predictions": answer(body["instances"])} if status == 200 else {"error": "model broke"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.rest_uri = f"http://127.0.0.1:{self.server.server_port}/v1/models/model:predict"

    def __enter__(self) -> FakeTFServing:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
