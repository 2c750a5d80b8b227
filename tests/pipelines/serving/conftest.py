"""Fixtures of the serving tests: the small real model `hscode serve` tests load (trained once per session)."""
from __future__ import annotations

import pytest

from tests.pipelines.serving.serve_fixtures import tiny_model_dir, tiny_model_tar


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """An exported model dir (1/ SavedModel, code/ with this checkout's hook, metadata.json)."""
    return tiny_model_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def model_tar(tmp_path_factory):
    """The same model packed as model.tar.gz."""
    return tiny_model_tar(tmp_path_factory)
