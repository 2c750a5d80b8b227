"""hscode serve: a local endpoint that behaves like SageMaker's (container contract + runtime API path).

    hscode serve                                             # the latest approved version on 127.0.0.1:8080
    hscode serve --model 3 --challenger 4 --weights champion=0.9,challenger=0.1
    hscode serve --model model.tar.gz --port 0               # any model file or dir; port 0 picks a free port

The weights are written to $HSCODE_HOME/serving/<endpoint>/weights.json; an edit of that file applies to the next
request, without a restart. A restart without --weights keeps that file's weights when it serves the same model
versions as the last start (as a SageMaker endpoint keeps its variant weights when a container restarts, e.g.
after an A/B job moved them); new versions start with everything on the champion. SIGTERM or Ctrl-C stops it
cleanly: in-flight requests finish, capture is flushed.
"""
from __future__ import annotations

import json
import logging
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.serving.capture import CaptureSink
from steps.hsml.cli_errors import JobFailed, UsageError, run_command

CHAMPION, CHALLENGER = "champion", "challenger"
DEFAULT_ENDPOINT = "hs-code"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the champion (and a challenger) over HTTP, as a SageMaker endpoint answers",
        description="A local HTTP endpoint: GET /ping, POST /invocations, POST /endpoints/<name>/invocations "
        "(boto3 invoke_endpoint with endpoint_url), POST /feedback, GET /metrics. Each model runs its own "
        "code/inference.py hook; every request is captured in SageMaker's data-capture format.",
    )
    parser.add_argument("--model", default="latest-approved",
                        help="the champion: latest-approved (default), a version number, a model-package ARN, "
                        "a model.tar.gz or an extracted model dir")
    parser.add_argument("--challenger", help="a second model (same forms as --model), served as 'challenger'")
    parser.add_argument("--weights", help="traffic split, e.g. champion=0.9,challenger=0.1 (default: all on the "
                        "champion; a challenger at weight 0 is reached by TargetVariant only)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="port (default %(default)s; 0 picks a free one)")
    parser.add_argument("--endpoint-name", default=DEFAULT_ENDPOINT,
                        help="the name /endpoints/<name>/invocations answers to (default %(default)s)")
    parser.add_argument("--capture-dir", help="capture root (default $HSCODE_HOME/capture)")
    parser.add_argument("--ground-truth-dir", help="ground-truth root (default $HSCODE_HOME/ground-truth)")
    parser.add_argument("--no-capture", action="store_true", help="capture nothing")
    parser.add_argument("--accept-threshold", type=float,
                        help="top-1 probability from which an answer is 'accept' (default: each version's "
                        "registered accept_threshold, 95 %% precision on the test split)")
    parser.add_argument("--group", help="model package group for registry references (default hs-code-classifier)")
    parser.add_argument("--max-batch", type=int, default=None,
                        help="most descriptions per SavedModel call when requests are micro-batched (default 256)")
    parser.add_argument("--max-wait-ms", type=float, default=None,
                        help="how long a batch may wait for more requests under load (default 1)")
    parser.set_defaults(handler=_serve)


def _serve(args) -> int:
    return run_command("hscode serve", lambda: serve(args))


def serve(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    endpoint = build_endpoint(args)
    host, port = endpoint.sock.getsockname()[:2]
    shown = ", ".join(f"{name}={source.ref} (version {source.model_version}, weight {endpoint.weights[name]:g})"
                      for name, source in endpoint.backend.sources.items())
    print(f"hscode serve: http://{host}:{port} endpoint {args.endpoint_name}: {shown}", flush=True)
    print(f"hscode serve: capture {endpoint.capture_dir or 'off'}, ground truth {endpoint.ground_truth_dir}, "
          f"weights {endpoint.weights_file} ({endpoint.weights_origin})", flush=True)

    stops: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, frame: stops.append(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}  # uvicorn hands the signal back here after a clean stop
    try:
        endpoint.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if endpoint.failures:
        raise JobFailed(f"the models failed to load: {endpoint.failures[0]}")
    stats = endpoint.frontend.stats()
    captured = stats["capture"]
    print(f"hscode serve: stopped; {stats['requests']} requests answered, capture written {captured['written']}, "
          f"failed {captured['failed']}, pending {captured['pending']}", flush=True)
    return 0


@dataclass
class LocalEndpoint:
    """Everything `hscode serve` runs, built and bound but not yet started."""

    server: object  # uvicorn.Server
    sock: socket.socket
    frontend: object  # ServingFrontEnd
    backend: object  # LocalBackend
    weights: dict[str, float]
    weights_file: Path
    capture_dir: Path | None
    ground_truth_dir: Path
    failures: list[BaseException] = field(default_factory=list)
    weights_origin: str = ""  # where the starting weights came from (startup_weights)

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def run(self) -> None:
        """Serve until SIGTERM/Ctrl-C (main thread) or `stop()`; models load meanwhile; closes the socket."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def stop(self) -> None:
        self.server.should_exit = True


def build_endpoint(args) -> LocalEndpoint:
    """Resolve and unpack the models, write the weights, build the sinks, front end and app, bind the socket."""
    from pipelines import settings
    from pipelines.serving.app import bind_socket, create_app, make_server
    from pipelines.serving.capture import CapturedIds, LocalCaptureSink
    from pipelines.serving.feedback import LocalGroundTruthSink
    from pipelines.serving.frontend import KnownIds, ServingFrontEnd, load_hs_texts
    from pipelines.serving.model_host import LocalBackend, resolve_model
    from pipelines.serving.tf_serving import DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_S
    from pipelines.serving.weights import LocalWeightsStore
    from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes

    _check_options(args)
    home = settings.hscode_home()
    sources = {CHAMPION: resolve_model(args.model, group=args.group)}
    if args.challenger:
        sources[CHALLENGER] = resolve_model(args.challenger, group=args.group)
    store = LocalWeightsStore(home / "serving" / args.endpoint_name / "weights.json")
    weights, weights_origin = startup_weights(args.weights, sources, store)

    max_wait_s = DEFAULT_MAX_WAIT_S if args.max_wait_ms is None else args.max_wait_ms / 1000
    backend = LocalBackend(sources, home / "serving" / "models", max_batch=args.max_batch or DEFAULT_MAX_BATCH,
                           max_wait_s=max_wait_s)
    backend.prepare()  # an unreadable model fails here, before the port is taken
    thresholds = backend.thresholds(args.accept_threshold)
    _warn_about_thresholds(thresholds, sources)

    capture_dir = None if args.no_capture else Path(args.capture_dir or home / "capture")
    ground_truth_dir = Path(args.ground_truth_dir or home / "ground-truth")
    capture = NoCapture() if capture_dir is None else LocalCaptureSink(capture_dir)
    known = KnownIds(fallback=None if capture_dir is None else CapturedIds(capture_dir, args.endpoint_name))
    frontend = ServingFrontEnd(args.endpoint_name, store, backend, capture, LocalGroundTruthSink(ground_truth_dir),
                               thresholds, HSCodeNormalizer(load_hs6_codes(settings.HS2022_NOMENCLATURE)),
                               known_ids=known, parent_thresholds=backend.parent_thresholds(),
                               hs_texts=load_hs_texts(settings.HS2022_NOMENCLATURE))

    sock = bind_socket(args.host, args.port)
    failures: list[BaseException] = []

    def on_load_failure(error: BaseException) -> None:
        failures.append(error)
        server.should_exit = True

    server = make_server(create_app(frontend, backend, on_load_failure=on_load_failure), sock)
    return LocalEndpoint(server, sock, frontend, backend, weights, store.path, capture_dir, ground_truth_dir,
                         failures, weights_origin)


def _check_options(args) -> None:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: give a port number from 0 to 65535")
    if args.accept_threshold is not None and not 0.0 <= args.accept_threshold <= 1.0:
        raise UsageError(f"--accept-threshold {args.accept_threshold}: give a probability from 0 to 1")
    if args.max_batch is not None and args.max_batch < 1:
        raise UsageError("--max-batch must be at least 1")
    if args.max_wait_ms is not None and args.max_wait_ms < 0:
        raise UsageError("--max-wait-ms must be 0 or more")


def startup_weights(text: str | None, sources: dict, store) -> tuple[dict[str, float], str]:
    """The weights to start with, and where they came from: --weights when given; else the weights file's, when it
    names exactly these variants and the previous start served the same versions (variants.json beside it);
    else everything on the champion. Writes both files unless it kept them."""
    served = {variant: source.model_version for variant, source in sources.items()}
    record = store.path.with_name("variants.json")
    if text is None:
        try:
            kept = store.read() if json.loads(record.read_text(encoding="utf-8")) == served else None
        except (OSError, ValueError, UsageError):  # no file yet, or one that cannot be read: start afresh
            kept = None
        if kept is not None and set(kept) == set(served):
            return kept, "kept from the last start: same model versions"
    weights = initial_weights(text, list(served))
    store.write(weights)
    record.write_text(json.dumps(served, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return weights, "from --weights" if text is not None else "all on the champion"


def initial_weights(text: str | None, variants: list[str]) -> dict[str, float]:
    """--weights over the served variants (a variant not named gets 0); default: everything on the champion."""
    from pipelines.serving.routing import normalise_weights, parse_weights

    if text is None:
        return normalise_weights({name: 1.0 if name == CHAMPION else 0.0 for name in variants})
    weights = parse_weights(text)
    unknown = sorted(set(weights) - set(variants))
    if unknown:
        hint = " (add --challenger MODEL)" if CHALLENGER in unknown else ""
        raise UsageError(f"--weights names {', '.join(unknown)}, which is not served{hint}: "
                         f"this server serves {', '.join(variants)}")
    return normalise_weights({name: weights.get(name, 0.0) for name in variants})


def _warn_about_thresholds(thresholds: dict[str, float | None], sources) -> None:
    for variant, source in sources.items():
        if source.status not in (None, "Approved"):
            logging.getLogger("hscode.serve").warning(
                "variant %s: version %s is %s, not Approved: serving it anyway (a deploy would not)",
                variant, source.model_version, source.status)
    for variant, threshold in thresholds.items():
        if threshold is None:
            logging.getLogger("hscode.serve").warning(
                "variant %s (%s): no accept threshold known (a path has none; a registry version registered "
                "before thresholds were has none): every answer is 'review'; pass --accept-threshold P",
                variant, sources[variant].ref)
        elif threshold > 1:
            logging.getLogger("hscode.serve").warning(
                "variant %s: its evaluation reached 95 %% precision at no threshold: every answer is 'review'",
                variant)


class NoCapture(CaptureSink):
    """--no-capture: a capture sink that stores nothing (and says so in /metrics)."""

    def write(self, record: dict, endpoint: str, variant: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"written": 0, "failed": 0, "pending": 0, "disabled": 1}
