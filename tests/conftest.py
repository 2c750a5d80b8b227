"""Fixtures shared across the test tree."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def moto_endpoint():
    """A moto server on 127.0.0.1 standing in for AWS (point AWS_ENDPOINT_URL at the yielded URL)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
