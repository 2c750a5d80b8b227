"""Calling the router's IAM-authorised function URL: requests signed with SigV4 for the service "lambda".

    runtime = router_runtime_client("https://abc.lambda-url.eu-west-1.on.aws/")
    runtime.invoke_endpoint(EndpointName="hs-code", ContentType="application/json", Body=b'["fresh apples"]')

`router_runtime_client` is boto3's own sagemaker-runtime client, aimed at the function URL and signed for Lambda
instead of SageMaker, so code written against `hscode serve` or a SageMaker endpoint runs unchanged.
`signed_request` signs any other call (POST /feedback, GET /metrics). The caller needs lambda:InvokeFunctionUrl
and lambda:InvokeFunction on the router (the stack's RouterInvokePolicy grants both).
"""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

_URL_REGION = re.compile(r"\.lambda-url\.([a-z0-9-]+)\.on\.aws$")


def region_of(function_url: str, region: str | None = None) -> str | None:
    """The region a function URL lives in (…lambda-url.<region>.on.aws), unless one is given."""
    if region:
        return region
    match = _URL_REGION.search(urlsplit(function_url).hostname or "")
    return match.group(1) if match else None


def _sign_for_lambda(request, **_) -> None:
    request.context.setdefault("signing", {})["signing_name"] = "lambda"


def router_runtime_client(function_url: str, region: str | None = None, session=None):
    """boto3's sagemaker-runtime client for the router's function URL."""
    import boto3

    session = session or boto3.session.Session()
    client = session.client("sagemaker-runtime", region_name=region_of(function_url, region) or session.region_name,
                            endpoint_url=function_url.rstrip("/"))
    client.meta.events.register("before-sign.sagemaker-runtime.*", _sign_for_lambda)
    return client


def signed_request(method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None,
                   region: str | None = None, session=None, timeout: float = 90) -> tuple[int, dict, bytes]:
    """(status, headers, body) of one SigV4-signed request to the function URL."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = session or boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found: configure them (aws configure, AWS_PROFILE, a role)")
    region = region_of(url, region) or session.region_name
    if not region:
        raise RuntimeError(f"cannot tell the region of {url}: pass --region")
    request = AWSRequest(method=method.upper(), url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(credentials.get_frozen_credentials(), "lambda", region).add_auth(request)
    prepared = urllib.request.Request(url, data=body or None, method=method.upper(), headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
