"""Shared fixtures: one offline build per test session (about 3 s), from a frozen copy of steps/."""
from __future__ import annotations

import json
import shutil

import pytest

from pipelines import settings


@pytest.fixture(scope="session")
def frozen_steps_dir(tmp_path_factory):
    # A copy, so that two builds in one test see exactly the same code even while steps/ is edited.
    target = tmp_path_factory.mktemp("code") / "steps"
    shutil.copytree(settings.STEPS_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


@pytest.fixture(scope="session")
def offline_build(frozen_steps_dir):
    from pipelines.hs_code.offline import build_offline

    return build_offline(steps_dir=frozen_steps_dir)


@pytest.fixture(scope="session")
def definition(offline_build) -> dict:
    return json.loads(offline_build.definition)


@pytest.fixture(scope="session")
def steps_by_name(definition) -> dict:
    """Every step, the ones nested in the condition's branches included."""
    found = {}

    def walk(steps):
        for step in steps:
            found[step["Name"]] = step
            walk(step.get("Arguments", {}).get("IfSteps", []))
            walk(step.get("Arguments", {}).get("ElseSteps", []))

    walk(definition["Steps"])
    return found
