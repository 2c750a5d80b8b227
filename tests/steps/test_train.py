"""steps/train.py: hyper-parameter spellings, the SageMaker script-mode contract, tuner metric lines."""
from __future__ import annotations

import argparse
import hashlib
import json
import re

import pytest

from steps import train as train_step
from tests.steps.model_fixtures import FAST_HYPERPARAMETERS, small_splits, write_channel


def _parse(argv):
    parser = argparse.ArgumentParser()
    train_step.add_hyperparameter_arguments(parser)
    return parser.parse_args(argv)


def test_hyperparameters_accept_hyphen_and_underscore_spellings_and_tuner_numbers():
    args = _parse(["--model_type", "lstm", "--embedding-dim", "96", "--batch_size", "32.0", "--kernel_sizes", "2,3"])
    assert (args.model_type, args.embedding_dim, args.batch_size, args.kernel_sizes) == ("lstm", 96, 32, "2,3")
    assert _parse([]).epochs == train_step.HYPERPARAMETER_DEFAULTS["epochs"]


def test_kernel_sizes_parsing():
    assert train_step.parse_kernel_sizes("2, 3,4") == (2, 3, 4)
    with pytest.raises(ValueError, match="positive widths"):
        train_step.parse_kernel_sizes("0,2")


def test_missing_encoder_says_to_run_data_preparation(tmp_path, monkeypatch):
    train = small_splits()[0]
    train.to_csv(tmp_path / "train.csv", index=False)
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    with pytest.raises(SystemExit, match="encoder.json"):
        train_step.main([])


@pytest.mark.slow
def test_script_mode_run_prints_tuner_metrics_and_writes_the_model_dir(tmp_path, monkeypatch, capsys):
    train, validation, encoder = small_splits()
    validation = validation.copy()
    validation.loc[0, "hs_code"] = "999999"  # a code absent from train: counted as an error, reported
    write_channel(tmp_path / "train", train, validation.iloc[:0], encoder)
    write_channel(tmp_path / "validation", train.iloc[:0], validation, encoder)
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(tmp_path / "validation"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    argv = [item for name, value in {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 2, "patience": 5}.items()
            for item in (f"--{name}", str(value))] + ["--sagemaker_program", "train.py"]
    assert train_step.main(argv) == 0

    out = capsys.readouterr().out
    accuracies = re.findall(r"^val_accuracy=([0-9\.]+);$", out, flags=re.MULTILINE)
    f1s = re.findall(r"^val_macro_f1=([0-9\.]+);$", out, flags=re.MULTILINE)
    assert len(accuracies) == len(f1s) == 3  # every epoch, then the best epoch once more
    assert float(accuracies[-1]) == max(map(float, accuracies[:-1]))
    assert "epoch 2/2" in out and "ETA" in out
    assert "1 with a code absent from train" in out

    model_dir = tmp_path / "model"
    for name in ("1/saved_model.pb", "code/inference.py", "code/steps/hsml/descriptions.py", "encoder.json", "metadata.json"):
        assert (model_dir / name).exists(), name
    metadata = json.loads((model_dir / "metadata.json").read_text())
    expected_hash = hashlib.sha256((tmp_path / "train" / "train.csv").read_bytes()).hexdigest()
    assert metadata["training_data_sha256"] == expected_hash
    assert metadata["labels"] == sorted(train["hs_code"].unique())
    assert metadata["metrics"]["unseen_validation_rows"] == 1
    assert metadata["metrics"]["val_accuracy"] == pytest.approx(float(accuracies[-1]), abs=1e-4)


@pytest.mark.slow
def test_same_seed_same_model(tmp_path):
    train, validation, encoder = small_splits()
    hyperparameters = {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 1}
    runs = [train_step.train_model(train, validation, encoder, hyperparameters, log=lambda line: None)
            for _ in range(2)]
    assert runs[0]["history"][-1]["loss"] == runs[1]["history"][-1]["loss"]


@pytest.mark.slow
def test_hscode_train_cli_trains_on_a_prepared_dir_and_packs(tmp_path, capsys):
    from pipelines.cli import main as hscode

    train, validation, encoder = small_splits()
    data_dir = write_channel(tmp_path / "prepared", train, validation, encoder)  # flat, as data preparation writes
    argv = ["train", "--train", str(data_dir), "--model-dir", str(tmp_path / "model"), "--package",
            "--model-type", "textcnn", "--epochs", "1", "--embedding-dim", "16", "--filters", "16", "--max-length", "8"]
    assert hscode(argv) == 0
    assert (tmp_path / "model.tar.gz").exists()
    assert "val_accuracy=" in capsys.readouterr().out


def test_hscode_train_cli_missing_data_is_a_clear_error(tmp_path, capsys):
    from pipelines.cli import main as hscode

    (tmp_path / "encoder.json").write_text("{}")
    assert hscode(["train", "--train", str(tmp_path), "--model-dir", str(tmp_path / "model")]) == 2
    assert "hscode data prepare" in capsys.readouterr().out
