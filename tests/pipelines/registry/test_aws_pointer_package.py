"""The approved-pointer hook's Lambda zip: deterministic, exactly the modules the handler imports, and complete in
an interpreter that has only what Lambda has.

The clean run is `python -I -S` (no site-packages, no editable install of this project) with the unpacked zip
(Lambda unpacks it into /var/task) and boto3 with its own dependencies on sys.path, nothing else; it syncs a real
pointer in a moto server.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3

from pipelines.registry.aws_pointer_package import HANDLER, HOOK_FILES, build_hook_zip, code_key, main
from pipelines.settings import REPO_ROOT

REGION = "us-east-1"
GROUP = "hs-mlops-dev-classifier"
BUCKET = "hs-mlops-dev-artifacts"
# What the Lambda Python runtime provides besides the standard library.
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
HEAVY = ("sagemaker", "numpy", "pandas", "tensorflow", "moto", "yaml", "requests")


def test_the_zip_is_deterministic_and_holds_the_hook_files(tmp_path):
    first, sha = build_hook_zip(tmp_path / "a" / "hook.zip")
    _, again = build_hook_zip(tmp_path / "b" / "hook.zip")
    assert sha == again
    names = zipfile.ZipFile(first).namelist()
    assert names == sorted(HOOK_FILES)
    assert code_key(sha) == f"registry/approved-pointer/approved-pointer-{sha[:16]}.zip"


def test_the_file_list_is_what_the_handler_imports():
    """A new import in the registry must reach the zip; a file nothing imports must leave it."""
    probe = ("import json, sys; from pathlib import Path; import " + HANDLER.rsplit(".", 1)[0] + "; "
             "import pipelines.registry.sagemaker_registry; root = Path(sys.argv[1]); "
             "print(json.dumps(sorted(str(Path(m.__file__).resolve().relative_to(root)) for m in list(sys.modules.values()) "
             "if getattr(m, '__file__', None) and m.__name__.split('.')[0] in ('pipelines', 'steps'))))")
    run = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT)], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == sorted(HOOK_FILES)


def test_main_prints_the_key_to_upload_to(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "hook.zip")]) == 0
    out, err = capsys.readouterr()
    sha = hashlib.sha256((tmp_path / "hook.zip").read_bytes()).hexdigest()
    assert out.strip() == code_key(sha) and f"sha256 {sha}" in err


def _lambda_like_site(directory: Path) -> Path:
    """A folder holding links to boto3 and its dependencies only."""
    directory.mkdir()
    for name in LAMBDA_RUNTIME_PACKAGES:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


CLEAN_RUN = """
import json, os, sys
sys.path[:0] = [os.environ["TASK_ROOT"], os.environ["RUNTIME_SITE"]]
import {module} as hook
assert hook.__file__.startswith(os.environ["TASK_ROOT"]), hook.__file__
result = hook.{function}({event}, None)
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"model": result["model"], "heavy": heavy}}))
"""


def test_the_zip_syncs_the_pointer_with_only_boto3_in_a_clean_interpreter(tmp_path, moto_endpoint):
    import requests

    zip_path, _ = build_hook_zip(tmp_path / "hook.zip")
    task_root = tmp_path / "task"
    zipfile.ZipFile(zip_path).extractall(task_root)
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    aws = {"region_name": REGION, "endpoint_url": moto_endpoint, "aws_access_key_id": "testing",
           "aws_secret_access_key": "testing"}
    s3, sagemaker = boto3.client("s3", **aws), boto3.client("sagemaker", **aws)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="hs-code/run-1/model.tar.gz", Body=b"model one")
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="Approved",
        InferenceSpecification={"Containers": [{"Image": "tf-serving", "ModelDataUrl": f"s3://{BUCKET}/hs-code/run-1/model.tar.gz"}],
                                "SupportedContentTypes": ["application/json"],
                                "SupportedResponseMIMETypes": ["application/json"]},
        CustomerMetadataProperties={"checksum-sha256": hashlib.sha256(b"model one").hexdigest()})["ModelPackageArn"]
    event = {"detail-type": "SageMaker Model Package State Change", "source": "aws.sagemaker",
             "detail": {"ModelPackageGroupName": GROUP, "ModelPackageVersion": 1, "ModelApprovalStatus": "Approved"}}
    module, function = HANDLER.rsplit(".", 1)
    env = {"TASK_ROOT": str(task_root), "RUNTIME_SITE": str(_lambda_like_site(tmp_path / "runtime")),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": moto_endpoint,
           "ARTIFACT_BUCKET": BUCKET, "BASE_JOB_PREFIX": "hs-code", "GROUP": GROUP}
    run = subprocess.run([sys.executable, "-I", "-S", "-c",
                          CLEAN_RUN.format(module=module, function=function, event=repr(event), heavy=HEAVY)],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["heavy"] == [] and result["model"]["arn"] == arn
    prefix = f"hs-code/approved/{GROUP}/"
    assert s3.get_object(Bucket=BUCKET, Key=prefix + "model.tar.gz")["Body"].read() == b"model one"
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=prefix + "approved.json")["Body"].read())["model"]["version"] == 1
