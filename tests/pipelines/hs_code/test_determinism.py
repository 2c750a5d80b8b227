"""The definition must not change between builds (or step caching breaks on every upsert),
and every DAG change must show up in review as a diff of the committed snapshot.

Update the snapshot after an intended DAG change with:
    HSCODE_UPDATE_SNAPSHOT=1 pytest tests/pipelines/hs_code/test_determinism.py
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pipelines.hs_code.code_bundle import CodeBundle
from pipelines.hs_code.offline import build_offline

SNAPSHOT = Path(__file__).with_name("definition.snapshot.json")
UPDATE_COMMAND = "HSCODE_UPDATE_SNAPSHOT=1 pytest tests/pipelines/hs_code/test_determinism.py"


def normalized(definition: str) -> str:
    """Pretty JSON with the code digest masked: editing steps/ changes code keys, not the DAG."""
    text = json.dumps(json.loads(definition), indent=2, ensure_ascii=False) + "\n"
    return re.sub(r"/code/[0-9a-f]{16}/", "/code/<code-digest>/", text)


def test_two_builds_are_byte_identical(offline_build, frozen_steps_dir):
    again = build_offline(steps_dir=frozen_steps_dir)
    assert again.definition == offline_build.definition
    assert again.objects == offline_build.objects  # same keys, same bytes (the tarball too)


def test_code_digest_follows_the_code(frozen_steps_dir, tmp_path):
    bundle = CodeBundle.from_directory(frozen_steps_dir)
    assert CodeBundle.from_directory(frozen_steps_dir).tarball() == bundle.tarball()
    changed = tmp_path / "steps"
    changed.mkdir()
    for name, body in bundle.files:
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    (changed / "__init__.py").write_text("# changed\n")
    assert CodeBundle.from_directory(changed).digest != bundle.digest


def test_definition_matches_committed_snapshot(offline_build):
    current = normalized(offline_build.definition)
    if os.environ.get("HSCODE_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), f"no snapshot yet: run {UPDATE_COMMAND}"
    assert current == SNAPSHOT.read_text(encoding="utf-8"), (
        f"the pipeline definition changed; if intended, review and run: {UPDATE_COMMAND}")
