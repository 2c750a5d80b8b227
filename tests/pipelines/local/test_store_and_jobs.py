from __future__ import annotations

import pytest

from pipelines.local.containers import ContainerPaths, command_for
from pipelines.local.store import ArtifactStore, StoreError
from pipelines.local.training import final_metrics
from pipelines.local.tuning import SearchSpace


def test_store_mirrors_s3_and_fetches_objects_or_prefixes(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    store.put_bytes("s3://b/code/steps/a.py", b"A")
    store.put_bytes("s3://b/code/steps/hsml/b.py", b"B")
    assert store.path_for("s3://b/code/steps/a.py") == tmp_path / "store/b/code/steps/a.py"
    assert store.uri_for(tmp_path / "store/b/code/steps/a.py") == "s3://b/code/steps/a.py"

    single = store.fetch("s3://b/code/steps/a.py", tmp_path / "one")
    assert single == [tmp_path / "one/a.py"]
    store.fetch("s3://b/code/", tmp_path / "tree")
    assert (tmp_path / "tree/steps/hsml/b.py").read_bytes() == b"B"
    with pytest.raises(StoreError, match="no object or prefix at s3://b/missing/"):
        store.fetch("s3://b/missing/", tmp_path / "x")


def test_put_tree_adds_objects_under_a_prefix_like_s3_and_leaves_no_staging(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "aaa").mkdir(parents=True), (second / "bbb").mkdir(parents=True)
    (first / "aaa" / "data.csv").write_text("old")
    (first / "shared.json").write_text("first")
    (second / "bbb" / "data.csv").write_text("new")
    (second / "shared.json").write_text("second")
    store.put_tree("s3://b/snapshots", first)
    store.put_tree("s3://b/snapshots/", second)
    target = store.path_for("s3://b/snapshots")
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "aaa/data.csv", "bbb/data.csv", "shared.json"]  # an earlier upload's keys stay, as in S3
    assert (target / "shared.json").read_text() == "second"  # the same key is replaced
    assert not [p for p in target.rglob("*") if ".tmp-" in p.name]


def test_container_paths_and_command_mapping(tmp_path):
    paths = ContainerPaths(tmp_path / "job")
    command = command_for(["python3", "/opt/ml/processing/input/code/steps/x.py", "--out", "/opt/ml/processing/output"], paths)
    assert command[1:] == [f"{tmp_path}/job/opt/ml/processing/input/code/steps/x.py", "--out",
                           f"{tmp_path}/job/opt/ml/processing/output"]
    assert command[0].endswith("python") or "python3" in command[0]
    assert paths.rewrite("/opt/ml/code:/usr/lib") == f"{tmp_path}/job/opt/ml/code:/usr/lib"


def test_metric_regex_takes_the_last_match_like_sagemaker():
    log = "val_accuracy=0.1;\nepoch 2 val_accuracy=0.35;\nval_macro_f1=0.2;\nval_accuracy=0.3;\n"
    definitions = [{"Name": "val_accuracy", "Regex": r"val_accuracy=([0-9\.]+);"},
                   {"Name": "val_macro_f1", "Regex": r"val_macro_f1=([0-9\.]+);"},
                   {"Name": "loss", "Regex": r"loss=([0-9\.]+);"}]
    assert final_metrics(log, definitions) == {"val_accuracy": 0.3, "val_macro_f1": 0.2}


def test_search_space_honours_scaling_and_returns_strings():
    import optuna

    space = SearchSpace({
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
                                      {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.999", "ScalingType": "ReverseLogarithmic"}],
        "IntegerParameterRanges": [{"Name": "units", "MinValue": "32", "MaxValue": "256", "ScalingType": "Auto"}],
        "CategoricalParameterRanges": [{"Name": "model_type", "Values": ["textcnn", "lstm"]}],
    })
    assert space.distributions["lr"].log is True
    assert space.distributions["units"].log is False
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        values = space.as_hyperparameters(study.ask(space.distributions).params)
        assert 0.0001 <= float(values["lr"]) <= 0.1
        assert 0.9 <= float(values["momentum"]) <= 0.999
        assert 32 <= int(values["units"]) <= 256 and values["units"].isdigit()
        assert values["model_type"] in ("textcnn", "lstm")
