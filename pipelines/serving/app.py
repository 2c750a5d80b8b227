"""The HTTP face of `hscode serve`: FastAPI on uvicorn around one ServingFrontEnd and the local model host.

    GET  /ping                                   200 {"status": "ok", "variants": {...}} once every model is
                                                 loaded, 503 while loading (the container contract)
    POST /invocations                            the container contract
    POST /endpoints/{endpoint_name}/invocations  the SageMaker runtime API path (boto3 invoke_endpoint)
    POST /feedback                               ground truth: {"inference_id", "hs_code"} or a list of them
    GET  /metrics                                front-end, capture and micro-batching counters (JSON)

Every answer is JSON, errors included (unknown route, wrong method, a bug: never a stack trace). A body over the
limit is refused from its Content-Length, or as soon as a chunked body passes it, without being read whole. The
request path is synchronous (the hook blocks on the micro-batcher), so it runs in the thread pool and the event
loop keeps accepting. One worker process: the models and the capture buffer live in it. Models load in a thread
started at startup, after which uvicorn binds the socket at once; /ping answers 503 until they are in.
On shutdown (SIGTERM, Ctrl-C) uvicorn stops accepting and lets in-flight requests finish; then the capture and
ground-truth sinks are flushed and closed, so no answered request goes uncaptured.
"""
from __future__ import annotations

import asyncio
import errno
import gc
import json
import logging
import socket
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipelines.serving.frontend import ServingFrontEnd
from pipelines.serving.model_host import LocalBackend
from steps.hsml.cli_errors import UsageError

ROUTES = "GET /ping, POST /invocations, POST /endpoints/{endpoint_name}/invocations, POST /feedback, GET /metrics"
GRACEFUL_SHUTDOWN_S = 30  # in-flight requests get this long to finish on SIGTERM (SageMaker gives 60 s per call)
log = logging.getLogger(__name__)


def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload).encode("utf-8"), status, headers=headers, media_type="application/json")


class _Loader:
    """Loads the models in a daemon thread (a SIGTERM during a load need not wait for it)."""

    def __init__(self, backend: LocalBackend, on_failure: Callable[[BaseException], None] | None):
        self.backend, self.on_failure = backend, on_failure
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="model-loader", daemon=True)

    def _run(self) -> None:
        try:
            self.backend.load()
            # TensorFlow leaves millions of long-lived objects; a full collection walking them all would stall
            # every in-flight request for a fraction of a second, so they move out of the collector's sight
            gc.collect()
            gc.freeze()
        except BaseException as error:  # reported by /ping and to whoever runs the server
            log.exception("loading the models failed")
            self.error = error
            if self.on_failure:
                self.on_failure(error)


def create_app(frontend: ServingFrontEnd, backend: LocalBackend, *,
               on_load_failure: Callable[[BaseException], None] | None = None) -> FastAPI:
    """The app; models load when it starts (a lifespan task), sinks close when it stops."""
    loader = _Loader(backend, on_load_failure)
    limit = frontend.max_body_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        loader.thread.start()
        try:
            yield
        finally:
            await asyncio.to_thread(frontend.close)  # flush capture and ground truth: in-flight requests are done
            if not loader.thread.is_alive():
                backend.close()

    app = FastAPI(title="hscode serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/ping")
    async def ping():
        variants = {name: {"model": source.ref, "model_version": source.model_version,
                           "loaded": name in backend.models} for name, source in backend.sources.items()}
        if loader.error is not None:
            return _json(500, {"error": f"the models failed to load: {loader.error}", "variants": variants})
        if not backend.ready:
            return _json(503, {"status": "loading", "variants": variants})
        return _json(200, {"status": "ok", "variants": variants})

    async def invoke(request: Request, endpoint_name: str | None) -> Response:
        body = await _read_body(request, limit)
        if isinstance(body, Response):
            return body
        if not backend.ready:
            return _not_ready(loader)
        answer = await run_in_threadpool(frontend.invoke, body, request.headers.get("content-type"),
                                         request.headers, endpoint_name)
        return Response(answer.body, answer.status, headers=answer.headers)

    @app.post("/invocations")
    async def invocations(request: Request):
        return await invoke(request, None)

    @app.post("/endpoints/{endpoint_name}/invocations")
    async def endpoint_invocations(request: Request, endpoint_name: str):
        return runtime_api_error(await invoke(request, endpoint_name))

    @app.post("/feedback")
    async def feedback(request: Request):
        body = await _read_body(request, limit)
        if isinstance(body, Response):
            return body
        answer = await run_in_threadpool(frontend.feedback, body)
        return Response(answer.body, answer.status, headers=answer.headers)

    @app.get("/metrics")
    async def metrics():
        return _json(200, {**frontend.stats(), "ready": backend.ready, "models": backend.stats()})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}: this server answers {ROUTES}"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}: this server answers {ROUTES}"
        else:
            message = str(error.detail)
        return _json(error.status_code, {"error": message}, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        return _json(422, {"error": f"invalid request: {error.errors()}"})

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):
        log.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return _json(500, {"error": f"internal error: {type(error).__name__}"})

    app.state.loader = loader
    return app


# SageMaker runtime's error types (botocore raises client.exceptions.<type>), by our status.
_RUNTIME_ERROR_TYPES = {503: "ServiceUnavailable"}


def runtime_api_error(response: Response) -> Response:
    """An error of the runtime API path, as boto3 reads one: the x-amzn-ErrorType header and a "message" key
    beside "error" (without them a ClientError says only its status)."""
    if response.status_code < 400:
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        payload = {"error": response.body.decode("utf-8", "replace")}
    error_type = _RUNTIME_ERROR_TYPES.get(response.status_code,
                                          "ValidationError" if response.status_code < 500 else "InternalFailure")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
    return _json(response.status_code, {**payload, "message": payload.get("error", "")},
                 {**headers, "x-amzn-ErrorType": error_type})


def _not_ready(loader: _Loader) -> Response:
    if loader.error is not None:
        return _json(500, {"error": f"the models failed to load: {loader.error}"})
    return _json(503, {"error": "the models are still loading: poll GET /ping until it answers 200"},
                 {"Retry-After": "1"})


def _too_large(limit: int, size: int | None) -> Response:
    size_text = f"{size:,} bytes" if size is not None else "larger"
    return _json(413, {"error": f"request body is {size_text}, over the limit of {limit:,} bytes: "
                                "split it into smaller requests"}, {"Connection": "close"})


async def _read_body(request: Request, limit: int) -> bytes | Response:
    """The body, or an error response: 413 from Content-Length alone, or once a chunked body passes the limit."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            return _json(400, {"error": f"Content-Length {declared!r} is not a number of bytes"})
        if int(declared) > limit:
            return _too_large(limit, int(declared))
        return await request.body()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _too_large(limit, None)
        chunks.append(chunk)
    return b"".join(chunks)


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is a clear error (and port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on such sockets, and without it every keep-alive
    # answer waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use (another hscode serve?): stop that server or pass "
                             "--port N") from None
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}; check --host and --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def make_server(app: FastAPI, sock: socket.socket):
    """A uvicorn server for `app` on `sock`: one process, no access log (it would cost more than a request)."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    # log_config=None: uvicorn's records go to the root logger as ours do, not through a dictConfig of its own
    # (which would close every handler already installed)
    config = uvicorn.Config(app, host=host, port=port, workers=1, access_log=False, log_level="info",
                            log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S, lifespan="on",
                            backlog=2048)
    return uvicorn.Server(config)
