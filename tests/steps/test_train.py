"""Training through its two doors: the SageMaker script-mode shell (steps/train.py, run as SageMaker runs it) and
`hscode train`; the tuner's metric lines, the exported model dir, the error style."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from steps.hsml import training
from steps.hsml.cli_errors import UsageError
from tests.steps.model_fixtures import FAST_HYPERPARAMETERS, small_splits, write_channel

TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / "steps" / "train.py"


def _script(argv, env, cwd):
    """python steps/train.py, from another folder, with only the environment SageMaker would give."""
    return subprocess.run([sys.executable, str(TRAIN_SCRIPT), *argv], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **env, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=600)


def test_missing_encoder_says_to_run_data_preparation(tmp_path):
    small_splits()[0].to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(UsageError, match="encoder.json not found.*hscode data prepare"):
        training.run(tmp_path, None, tmp_path / "model")
    with pytest.raises(UsageError, match="give --train DIR and --model-dir DIR"):
        training.run(None, None, tmp_path / "model")


def test_script_reports_bad_usage_on_stderr_with_exit_2(tmp_path):
    job = _script(["--epochs", "1"], {"SM_CHANNEL_TRAIN": str(tmp_path)}, tmp_path)
    assert job.returncode == 2, job.stderr
    assert job.stderr.strip().endswith("train.py: error: give --train DIR and --model-dir DIR (or set SM_CHANNEL_TRAIN "
                                       "and SM_MODEL_DIR)")


@pytest.mark.slow
def test_script_mode_run_prints_tuner_metrics_and_writes_the_model_dir(tmp_path):
    train, validation, encoder = small_splits()
    validation = validation.copy()
    validation.loc[0, "hs_code"] = "999999"  # a code absent from train: counted as an error, reported
    write_channel(tmp_path / "train", train, validation.iloc[:0], encoder)
    write_channel(tmp_path / "validation", train.iloc[:0], validation, encoder)
    env = {"SM_CHANNEL_TRAIN": str(tmp_path / "train"), "SM_CHANNEL_VALIDATION": str(tmp_path / "validation")}
    # As the tuner passes them: --name value, model_dir as a hyper-parameter, and SageMaker's own extras.
    argv = [item for name, value in {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 2, "patience": 5}.items()
            for item in (f"--{name}", str(value))]
    argv += ["--model_dir", str(tmp_path / "model"), "--sagemaker_program", "train.py"]
    job = _script(argv, env, tmp_path)
    assert job.returncode == 0, job.stderr

    out = job.stdout
    accuracies = re.findall(r"^val_accuracy=([0-9\.]+);$", out, flags=re.MULTILINE)
    f1s = re.findall(r"^val_macro_f1=([0-9\.]+);$", out, flags=re.MULTILINE)
    assert len(accuracies) == len(f1s) == 3  # every epoch, then the best epoch once more
    assert float(accuracies[-1]) == max(map(float, accuracies[:-1]))
    assert "epoch 2/2" in out and "ETA" in out
    assert "1 with a code absent from train" in out
    assert "ignoring unknown arguments: --sagemaker_program train.py" in out

    model_dir = tmp_path / "model"
    for name in ("1/saved_model.pb", "code/inference.py", "code/steps/hsml/descriptions.py", "encoder.json",
                 "metadata.json"):
        assert (model_dir / name).exists(), name
    metadata = json.loads((model_dir / "metadata.json").read_text())
    expected_hash = hashlib.sha256((tmp_path / "train" / "train.csv").read_bytes()).hexdigest()
    assert metadata["training_data_sha256"] == expected_hash
    assert metadata["labels"] == sorted(train["hs_code"].unique())
    assert metadata["metrics"]["unseen_validation_rows"] == 1
    assert metadata["metrics"]["val_accuracy"] == pytest.approx(float(accuracies[-1]), abs=1e-4)
    # Only what the command line named overrides the DNN's own defaults.
    assert metadata["hyperparameters"]["wide"] == 1 and metadata["hyperparameters"]["loss"] == "squared_hinge"


@pytest.mark.slow
def test_same_seed_same_model():
    train, validation, encoder = small_splits()
    hyperparameters = {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 1}
    runs = [training.train_model(train, validation, encoder, hyperparameters, log=lambda line: None)
            for _ in range(2)]
    assert runs[0]["history"][-1]["loss"] == runs[1]["history"][-1]["loss"]


def test_early_stopping_monitors_the_validation_metrics_and_reports_the_best_epoch_last():
    train, validation, encoder = small_splits()
    validation = validation.assign(hs_code="999999")  # no code seen in training: val_accuracy stays 0
    lines = []
    result = training.train_model(train, validation, encoder,
                                  {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 6, "patience": 1},
                                  log=lines.append)
    # Epoch 1 is the best (the first value is), epoch 2 brings no gain: patience 1 stops there.
    assert (result["best_epoch"], result["epochs_run"]) == (1, 2)
    assert "early stopping: no val_robust_accuracy gain for 1 epochs; best epoch 1" in lines
    assert "val_robust_accuracy=0.0000;" in lines  # the objective line, probes included, for the tuner
    # The DNN's default logit adjustment: the served model is re-scored, its objective line printed last but one.
    assert lines[-3:] == ["best epoch 1 of 2 (logit-adjusted):", "val_robust_accuracy=0.0000;",
                          "val_accuracy=0.0000;\nval_macro_f1=0.0000;"]


@pytest.mark.slow
def test_hscode_train_cli_trains_on_a_prepared_dir_and_packs(tmp_path, capsys):
    from pipelines.cli import main as hscode

    train, validation, encoder = small_splits()
    data_dir = write_channel(tmp_path / "prepared", train, validation, encoder)  # flat, as data preparation writes
    # Data preparation's vague detector travels into the model, as it must for serving to refuse vague rows.
    from steps.hsml.vagueness import VagueDetector

    detector = VagueDetector({"gift": (1.0, 5.0)}, -2.0, 0.5, {"source": "test"})
    (data_dir / "vagueness.json").write_text(json.dumps(detector.to_dict()), encoding="utf-8")
    argv = ["train", "--train", str(data_dir), "--model-dir", str(tmp_path / "model"), "--package",
            "--model-type", "textcnn", "--epochs", "1", "--embedding-dim", "16", "--filters", "16", "--max-length", "8"]
    assert hscode(argv) == 0
    assert (tmp_path / "model.tar.gz").exists()
    out = capsys.readouterr().out
    assert "val_accuracy=" in out and "trained textcnn" in out
    carried = VagueDetector.from_dict(json.loads((tmp_path / "model" / "vagueness.json").read_text(encoding="utf-8")))
    assert carried.to_dict() == detector.to_dict()


def test_hscode_train_cli_missing_data_is_a_clear_error(tmp_path, capsys):
    from pipelines.cli import main as hscode

    (tmp_path / "encoder.json").write_text("{}")
    assert hscode(["train", "--train", str(tmp_path), "--model-dir", str(tmp_path / "model")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("hscode train: error: ")
    assert "hscode data prepare" in captured.err
