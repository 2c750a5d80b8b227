from __future__ import annotations

import io

import pytest

from pipelines.local.progress import Console
from pipelines.local.runner import LocalRunner
from pipelines.local.store import ArtifactStore
from tests.pipelines.local import fake_pipeline


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HSCODE_HOME", str(home))
    return home


@pytest.fixture
def fake_store(home):
    store = ArtifactStore(home / "store")
    fake_pipeline.stage(store)
    fake_pipeline.stage_sourcedir(store)
    return store


@pytest.fixture
def make_runner(home, fake_store):
    def make(definition=None, **kwargs):
        console = Console(stream=io.StringIO())
        return LocalRunner(definition or fake_pipeline.definition(), home, console, **kwargs)
    return make
