"""The approved-pointer hook's Lambda zip, built from the project's own files (boto3 comes with the Lambda runtime).

The zip holds the handler and exactly the modules it imports: the registry package (its __init__ imports both
back ends, so all of it), what those import from pipelines/local and steps/hsml, and the package __init__ files
above them; nothing heavy (no SageMaker SDK, numpy or TensorFlow). Like the router's (serving/aws_package.py)
it is deterministic, so the same sources give the same bytes and the same content-addressed S3 key, and
CloudFormation updates the function only when the code changed.

    python -m pipelines.registry.aws_pointer_package --out build/approved-pointer.zip   # prints the S3 key
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipelines.lambda_zip import write_lambda_zip
from pipelines.settings import REPO_ROOT

HANDLER = "pipelines.registry.aws_pointer_handler.handler"
HOOK_FILES = (
    "pipelines/__init__.py",
    "pipelines/settings.py",
    "pipelines/local/__init__.py",
    "pipelines/local/offline.py",  # imported by registry/local.py for one constant
    "pipelines/local/pipeline_module.py",
    "pipelines/local/store.py",
    "pipelines/registry/__init__.py",
    "pipelines/registry/approved_pointer.py",
    "pipelines/registry/artifacts.py",
    "pipelines/registry/aws_pointer_handler.py",
    "pipelines/registry/base.py",
    "pipelines/registry/factory.py",
    "pipelines/registry/local.py",
    "pipelines/registry/metrics.py",
    "pipelines/registry/model.py",
    "pipelines/registry/refs.py",
    "pipelines/registry/request.py",
    "pipelines/registry/resolve.py",
    "pipelines/registry/sagemaker_registry.py",
    "pipelines/registry/states.py",
    "steps/__init__.py",
    "steps/hsml/__init__.py",
    "steps/hsml/cli_errors.py",
    "steps/hsml/hashing.py",
)
KEY_PREFIX = "registry/approved-pointer/"


def hook_entries(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Zip entry name -> source file."""
    entries = {name: root / name for name in HOOK_FILES}
    missing = [f"{name} ({path})" for name, path in entries.items() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"approved-pointer hook sources missing: {', '.join(missing)}")
    return entries


def build_hook_zip(out: Path, root: Path = REPO_ROOT) -> tuple[Path, str]:
    """Write the zip to `out`; returns (path, sha256 hex of its bytes)."""
    return write_lambda_zip(out, hook_entries(root))


def code_key(sha256: str, prefix: str = KEY_PREFIX) -> str:
    """The S3 key to upload the zip under (the stack's PointerCodeKey): a new zip is a new key, and a stack update."""
    return f"{prefix}approved-pointer-{sha256[:16]}.zip"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.registry.aws_pointer_package",
                                     description="Build the approved-pointer hook's Lambda zip; print its S3 key.")
    parser.add_argument("--out", type=Path, default=Path("build/approved-pointer.zip"), help="default: %(default)s")
    args = parser.parse_args(argv)
    path, sha = build_hook_zip(args.out)
    print(f"wrote {path} (sha256 {sha})", file=sys.stderr)
    print(code_key(sha))
    return 0


if __name__ == "__main__":
    sys.exit(main())
