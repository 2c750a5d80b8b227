from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from pipelines.registry import LocalRegistry

GROUP = "hs-code-classifier"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "hscode-home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    return home


def write_model_tar(path: Path, content: str) -> Path:
    """A small real model.tar.gz; `content` makes each one's sha256 different."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = content.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return path


@pytest.fixture
def stored_model(home):
    """Put a model.tar.gz into the local S3 mirror and return its s3:// URI."""

    def make(execution_id: str = "exec-1", content: str | None = None) -> str:
        key = f"hs-code-pipeline/{execution_id}/model.tar.gz"
        write_model_tar(home / "store" / "hs-mlops-artifacts" / key, content or f'{{"run": "{execution_id}"}}')
        return f"s3://hs-mlops-artifacts/{key}"

    return make


@pytest.fixture
def registry(home) -> LocalRegistry:
    return LocalRegistry()
