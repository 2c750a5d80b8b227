"""hscode router package|call: the AWS champion/challenger router (pipelines/serving/aws_router.py).

    KEY=$(hscode router package --out build/router.zip)      # prints the content-addressed S3 key to upload to
    hscode router call "$ROUTER_URL" /endpoints/hs-code/invocations --data '["fresh apples"]'
    hscode router call "$ROUTER_URL" /feedback --data '{"inference_id": "...", "hs_code": "080810"}'

`call` signs the request with SigV4 for Lambda (the function URL is IAM-authorised), with your AWS credentials.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from steps.hsml.cli_errors import JobFailed, UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("router", help="package or call the AWS router (Lambda function URL)",
                                   description=__doc__.split("\n\n")[0])
    actions = parser.add_subparsers(dest="router_command", required=True, metavar="ACTION")

    package = actions.add_parser("package", help="build the router's Lambda zip; prints the S3 key to upload it to")
    package.add_argument("--out", type=Path, default=Path("build/router.zip"), help="zip path (default %(default)s)")
    package.add_argument("--key-prefix", default="serving/router/",
                         help="S3 key prefix of the printed key (default %(default)s)")
    package.set_defaults(handler=_package)

    call = actions.add_parser("call", help="send one SigV4-signed request to the router's function URL")
    call.add_argument("url", help="the router's function URL (stack output RouterFunctionUrl)")
    call.add_argument("path", nargs="?", default="/invocations",
                      help="route: /invocations (default), /endpoints/<name>/invocations, /feedback, /ping, /metrics")
    call.add_argument("--data", help="request body, or @FILE to read it from a file (POST); none: GET")
    call.add_argument("--content-type", default="application/json", help="body content type (default %(default)s)")
    call.add_argument("--header", action="append", default=[], metavar="NAME:VALUE",
                      help="extra header, e.g. X-Amzn-SageMaker-Target-Variant:challenger (repeatable)")
    call.add_argument("--region", help="AWS region (default: from the URL)")
    call.set_defaults(handler=_call)


def _package(args) -> int:
    from pipelines.serving.aws_package import build_router_zip, code_key

    try:
        path, sha256 = build_router_zip(args.out)
    except FileNotFoundError as error:
        raise UsageError(f"{error}: run from a checkout of the repository") from None
    print(f"wrote {path} (sha256 {sha256})", file=sys.stderr)
    print(code_key(sha256, args.key_prefix))
    return 0


def _body(data: str | None) -> bytes:
    if data is None:
        return b""
    if data.startswith("@"):
        path = Path(data[1:])
        if not path.is_file():
            raise UsageError(f"--data {data}: no such file")
        return path.read_bytes()
    return data.encode("utf-8")


def _call(args) -> int:
    from pipelines.serving.aws_client import signed_request

    headers = {}
    for header in args.header:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {header!r}: expected NAME:VALUE")
        headers[name.strip()] = value.strip()
    body = _body(args.data)
    if args.data is not None:
        headers.setdefault("Content-Type", args.content_type)
    url = args.url.rstrip("/") + "/" + args.path.lstrip("/")
    try:
        status, response_headers, answer = signed_request("POST" if args.data is not None else "GET", url, body,
                                                          headers, region=args.region)
    except (RuntimeError, OSError) as error:
        raise JobFailed(f"calling {url} failed: {error}") from None
    text = answer.decode("utf-8", errors="replace")
    try:
        text = json.dumps(json.loads(text), indent=2)
    except ValueError:
        pass
    print(text)
    variant = {k.lower(): v for k, v in response_headers.items()}.get("x-amzn-invoked-production-variant")
    print(f"HTTP {status}" + (f", variant {variant}" if variant else ""), file=sys.stderr)
    if status >= 400:
        raise JobFailed(f"the router answered {status}" + (" (is the caller allowed lambda:InvokeFunctionUrl and "
                                                           "lambda:InvokeFunction? attach RouterInvokePolicy)"
                                                           if status == 403 else ""))
    return 0
