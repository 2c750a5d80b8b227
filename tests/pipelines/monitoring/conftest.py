from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pipelines.registry import LocalRegistry
from tests.pipelines.monitoring.synthetic import ENDPOINT, WHEN
from tests.pipelines.registry.conftest import GROUP, write_model_tar


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "hscode-home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    return home


@pytest.fixture
def two_versions(home):
    """Version 1 (Approved, accuracy 0.5) and version 2 (Pending, accuracy 0.9) in the local registry."""
    registry = LocalRegistry()
    for name, accuracy in (("a", 0.5), ("b", 0.9)):
        key = f"hs-code-pipeline/{name}/model.tar.gz"
        write_model_tar(home / "store" / "hs-mlops-artifacts" / key, name)
        registry.register(GROUP, f"s3://hs-mlops-artifacts/{key}", metrics={"accuracy": accuracy}, execution_id=name)
    registry.approve(1, by="test", reason="first")
    return registry


def backdate_plan(home, endpoint: str = ENDPOINT) -> dict:
    """The experiment started before the synthetic traffic (WHEN), as if it had run for weeks."""
    path = home / "ab" / endpoint / "plan.json"
    plan = json.loads(path.read_text())
    plan["created"] = (WHEN - timedelta(hours=1)).isoformat()
    path.write_text(json.dumps(plan))
    return plan
