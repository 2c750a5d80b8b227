"""Names and places shared by the pipeline, the local runner, the registry and the CLI."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
STEPS_DIR = REPO_ROOT / "steps"
BUNDLED_DATASET = DATA_DIR / "hs_descriptions_full.csv.gz"
HS2022_NOMENCLATURE = DATA_DIR / "hs2022_nomenclature.csv"

DEFAULT_MODEL_PACKAGE_GROUP = "hs-code-classifier"
DEFAULT_PIPELINE_NAME = "hs-code-pipeline"


def hscode_home() -> Path:
    """Where local state lives (registry, artifact store, executions): $HSCODE_HOME, else ./.hscode."""
    return Path(os.environ.get("HSCODE_HOME", ".hscode")).resolve()
