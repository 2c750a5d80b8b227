"""The router's Lambda zip, built from the project's own files (boto3 comes with the Lambda runtime).

The zip holds exactly the stdlib + boto3 modules the router imports, the package __init__ files above them and the
HS 2022 nomenclature the feedback check reads. It is deterministic (sorted entries, fixed timestamps), so the same
sources give the same bytes and the same S3 key, and CloudFormation updates the function only when code changed.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.lambda_zip import write_lambda_zip
from pipelines.settings import HS2022_NOMENCLATURE, REPO_ROOT

HANDLER = "pipelines.serving.aws_router.handler"
ROUTER_FILES = (
    "pipelines/__init__.py",
    "pipelines/serving/__init__.py",
    "pipelines/serving/routing.py",
    "pipelines/serving/weights.py",
    "pipelines/serving/capture.py",
    "pipelines/serving/feedback.py",
    "pipelines/serving/frontend.py",
    "pipelines/serving/aws_backend.py",
    "pipelines/serving/aws_sinks.py",
    "pipelines/serving/aws_router.py",
    "steps/__init__.py",
    "steps/hsml/__init__.py",
    "steps/hsml/cli_errors.py",
    "steps/hsml/hs_codes.py",
    "steps/hsml/descriptions.py",
    "steps/hsml/text.py",
    "steps/hsml/hierarchy.py",
    "steps/hsml/vagueness.py",
    "steps/hsml/explain.py",
    "steps/hsml/serving/__init__.py",
    "steps/hsml/serving/inference.py",
)
NOMENCLATURE_ENTRY = "data/hs2022_nomenclature.csv"  # where aws_router.DEFAULT_NOMENCLATURE looks


def router_entries(root: Path = REPO_ROOT) -> dict[str, Path]:
    """Zip entry name -> source file."""
    entries = {name: root / name for name in ROUTER_FILES}
    entries[NOMENCLATURE_ENTRY] = HS2022_NOMENCLATURE if root == REPO_ROOT else root / NOMENCLATURE_ENTRY
    missing = [f"{name} ({path})" for name, path in entries.items() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"router sources missing: {', '.join(missing)}")
    return entries


def build_router_zip(out: Path, root: Path = REPO_ROOT) -> tuple[Path, str]:
    """Write the zip to `out`; returns (path, sha256 hex of its bytes)."""
    return write_lambda_zip(out, router_entries(root))


def code_key(sha256: str, prefix: str = "serving/router/") -> str:
    """The S3 key to upload the zip under: content-addressed, so a new zip is a new key (and a stack update)."""
    return f"{prefix}router-{sha256[:16]}.zip"
