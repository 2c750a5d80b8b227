"""Shared by the pipeline tests: one execution of the real HS-code definition on a tiny slice of real rows.

The definition is built offline exactly as for AWS (`hscode pipeline run --local` does the same), then run once on
the local runner with real step scripts, real TensorFlow training and the real registry: only the data (the six most
frequent codes' first 25 real rows) and the budget (two one-epoch trials) are small. That first execution registers
version 1. It takes about half a minute on 2 cores, so it runs once per session: a test that starts from "a first
execution registered version 1" copies its home (`FirstRun.continue_in`) and goes on from there in its own copy,
so the tests stay independent of one another and of their order.
"""
from __future__ import annotations

import copy
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from pipelines import settings

SLICE_URI = "s3://hscode-artifacts/tests/tiny-slice/"
SLICE_PARAMETERS = {"InputDataUri": SLICE_URI, "MaxTuningJobs": "2", "MaxParallelTuningJobs": "2",
                    "QualityThreshold": "0"}
STATIC_HYPERPARAMETERS = {"epochs": "1", "patience": "1"}


def tiny_slice(codes: int = 6, per_code: int = 25) -> pd.DataFrame:
    """The most frequent codes' real rows (no nomenclature rows), a few hundred lines."""
    data = pd.read_csv(settings.BUNDLED_DATASET, dtype=str, keep_default_na=False)
    data = data[data["split"] != "train_nomenclature"]
    top = data["hs_code"].value_counts().index[:codes]
    return data[data["hs_code"].isin(top)].groupby("hs_code", group_keys=False).head(per_code)


@dataclass(frozen=True)
class FirstRun:
    """The shared first execution: its (read-only) home, the definition it ran, its record and its console output."""
    home: Path
    definition: dict
    pipeline_name: str
    record: object  # pipelines.local.records.ExecutionRecord
    output: str

    def continue_in(self, home: Path, monkeypatch):
        """A copy of the first execution's home at `home` (HSCODE_HOME points there) and a runner of the same
        definition over it: (runner, the runner's console output)."""
        from pipelines.local.progress import Console
        from pipelines.local.runner import LocalRunner

        shutil.copytree(self.home, home)
        monkeypatch.setenv("HSCODE_HOME", str(home))
        out = io.StringIO()
        runner = LocalRunner(copy.deepcopy(self.definition), home, Console(stream=out),
                             pipeline_name=self.pipeline_name)
        return runner, out


@pytest.fixture(scope="session")
def first_run(tmp_path_factory) -> FirstRun:
    from pipelines.hs_code import PIPELINE_MODULE
    from pipelines.local.build import build_local_definition
    from pipelines.local.pipeline_module import PipelineModule
    from pipelines.local.progress import Console
    from pipelines.local.runner import LocalRunner
    from pipelines.local.store import ArtifactStore

    home = tmp_path_factory.mktemp("first-run") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HSCODE_HOME", str(home))
        build = build_local_definition(home, PipelineModule.load(PIPELINE_MODULE),
                                       static_hyperparameters=dict(STATIC_HYPERPARAMETERS))
        ArtifactStore.under(home).put_bytes(SLICE_URI + "slice.csv", tiny_slice().to_csv(index=False).encode())
        out = io.StringIO()
        runner = LocalRunner(copy.deepcopy(build.definition), home, Console(stream=out),
                             pipeline_name=build.pipeline_name)
        record = runner.start(dict(SLICE_PARAMETERS))
    return FirstRun(home, build.definition, build.pipeline_name, record, out.getvalue())
