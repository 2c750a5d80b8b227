"""Names and places shared by the pipeline, the local runner, the registry and the CLI."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STEPS_DIR = REPO_ROOT / "steps"  # the installed `steps` package when installed, the source tree otherwise


def _bundled_data_dir() -> Path:
    """data/ of the source tree (a clone, an editable install), else the copy `pip install .` puts under
    <prefix>/share/hs-mlops/data (pyproject.toml's data-files)."""
    source = REPO_ROOT / "data"
    if (source / "hs2022_nomenclature.csv").is_file():
        return source
    return Path(sys.prefix) / "share" / "hs-mlops" / "data"


DATA_DIR = _bundled_data_dir()
BUNDLED_DATASET = DATA_DIR / "hs_descriptions_full.csv.gz"
HS2022_NOMENCLATURE = DATA_DIR / "hs2022_nomenclature.csv"

DEFAULT_MODEL_PACKAGE_GROUP = "hs-code-classifier"
DEFAULT_PIPELINE_NAME = "hs-code-pipeline"


def hscode_home() -> Path:
    """Where local state lives (registry, artifact store, executions): $HSCODE_HOME, else ./.hscode."""
    return Path(os.environ.get("HSCODE_HOME", ".hscode")).resolve()
