"""The router's Lambda zip: deterministic, and complete in an interpreter that has only what Lambda has.

The clean run is `python -I -S` (no site-packages, no editable install of this project) with the unpacked zip
(Lambda unpacks it into /var/task) and boto3 with its own dependencies on sys.path, nothing else. It serves a
/ping and a real invocation through the stand-in endpoints, capturing to the moto server.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import requests

from pipelines.serving.aws_package import HANDLER, ROUTER_FILES, build_router_zip, code_key
from tests.pipelines.serving.aws_fixtures import REGION, EndpointsStandIn

# What the Lambda Python runtime provides besides the standard library.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
HEAVY = ("fastapi", "starlette", "uvicorn", "tensorflow", "numpy", "pandas", "sagemaker", "moto", "requests", "yaml")


def test_the_zip_holds_the_router_modules_and_the_nomenclature_and_is_deterministic(tmp_path):
    first, sha = build_router_zip(tmp_path / "a" / "router.zip")
    _, again = build_router_zip(tmp_path / "b" / "router.zip")
    assert sha == again
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(names)
    assert set(names) == {*ROUTER_FILES, "data/hs2022_nomenclature.csv"}
    assert not any(name.endswith(("app.py", "model_host.py", "tf_serving.py")) for name in names)
    assert code_key(sha) == f"serving/router/router-{sha[:16]}.zip"


def _lambda_like_site(directory: Path) -> Path:
    """A folder holding links to boto3 and its dependencies only."""
    directory.mkdir()
    for name in LAMBDA_RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


CLEAN_RUN = """
import json, os, sys
sys.path[:0] = [os.environ["TASK_ROOT"], os.environ["RUNTIME_SITE"]]
import {module} as router
assert router.__file__.startswith(os.environ["TASK_ROOT"]), router.__file__
ping = router.{function}({{"rawPath": "/ping", "requestContext": {{"http": {{"method": "GET"}}}}, "headers": {{}}}})
answer = router.{function}({{"rawPath": "/endpoints/hs-code/invocations", "requestContext": {{"http": {{"method": "POST"}}}},
                          "headers": {{"content-type": "application/json"}}, "body": '["cotton t-shirt"]'}})
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"ping": ping["statusCode"], "status": answer["statusCode"], "body": answer["body"], "heavy": heavy}}))
"""


def test_the_zip_serves_with_only_boto3_in_a_clean_interpreter(tmp_path, moto_endpoint):
    zip_path, _ = build_router_zip(tmp_path / "router.zip")
    task_root = tmp_path / "task"
    zipfile.ZipFile(zip_path).extractall(task_root)
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    aws = {"region_name": REGION, "endpoint_url": moto_endpoint, "aws_access_key_id": "testing",
           "aws_secret_access_key": "testing"}
    boto3.client("s3", **aws).create_bucket(Bucket="capture")
    boto3.client("ssm", **aws).put_parameter(Name="/w", Value='{"champion": 1}', Type="String")
    module, function = HANDLER.rsplit(".", 1)
    with EndpointsStandIn({"champion-endpoint": ("610910", 0.9)}) as endpoints:
        env = {
            "TASK_ROOT": str(task_root), "RUNTIME_SITE": str(_lambda_like_site(tmp_path / "runtime")),
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,  # Lambda sets both
            "AWS_ENDPOINT_URL_S3": moto_endpoint, "AWS_ENDPOINT_URL_SSM": moto_endpoint,
            "VARIANT_ENDPOINTS": '{"champion": "champion-endpoint"}',
            "VARIANT_ENDPOINT_URLS": json.dumps({"champion": endpoints.url}),
            "WEIGHTS_PARAMETER": "/w", "CAPTURE_BUCKET": "capture",
        }
        run = subprocess.run([sys.executable, "-I", "-S", "-c",
                              CLEAN_RUN.format(module=module, function=function, heavy=HEAVY)],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (result["ping"], result["status"], result["heavy"]) == (200, 200, []), result
    assert json.loads(result["body"])["predictions"][0]["codes"][0] == "610910"
    captured = boto3.client("s3", **aws).list_objects_v2(Bucket="capture", Prefix="capture/hs-code/champion/")
    assert captured["KeyCount"] == 1


def test_hscode_router_package_prints_the_key_to_upload_to(tmp_path, capsys):
    import argparse

    from pipelines.cli import router as cli_router
    from steps.hsml.cli_errors import run_command

    parser = argparse.ArgumentParser()
    cli_router.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["router", "package", "--out", str(tmp_path / "router.zip")])
    assert run_command("hscode router package", lambda: args.handler(args)) == 0
    out, err = capsys.readouterr()
    _, sha = build_router_zip(tmp_path / "again.zip")
    assert out.strip() == code_key(sha) and f"sha256 {sha}" in err
