"""Small real-data fixtures for the model tests (built from the bundled dataset, cached per test process).

The slice: the 20 most frequent HS codes of the real training split, at most 40 rows each, split 75/25 per
class; the encoder is fitted on the training rows only, exactly as data preparation does.
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

from pipelines.settings import BUNDLED_DATASET
from steps.hsml.encoder import TextEncoder
from steps.hsml.text import normalize_description

FAST_HYPERPARAMETERS = {"embedding_dim": 32, "filters": 64, "units": 64, "epochs": 3, "batch_size": 32,
                        "learning_rate": 0.005, "max_length": 16, "patience": 2, "seed": 7}


@functools.lru_cache(maxsize=1)
def bundled_rows() -> pd.DataFrame:
    frame = pd.read_csv(BUNDLED_DATASET, dtype=str, keep_default_na=False)
    frame["text"] = frame["description"].map(normalize_description)
    return frame[frame["text"] != ""].reset_index(drop=True)


@functools.lru_cache(maxsize=1)
def small_splits() -> tuple[pd.DataFrame, pd.DataFrame, TextEncoder]:
    real = bundled_rows()[lambda f: f["split"] == "train"]
    top_codes = real["hs_code"].value_counts().index[:20]
    chosen = real[real["hs_code"].isin(top_codes)].sample(frac=1.0, random_state=0)
    chosen = chosen[chosen.groupby("hs_code").cumcount() < 40]
    position = chosen.groupby("hs_code").cumcount()
    share = chosen.groupby("hs_code")["hs_code"].transform("size")
    is_validation = position < (share * 0.25).round()
    train, validation = chosen[~is_validation], chosen[is_validation]
    columns = ["description", "text", "hs_code", "source"]
    train, validation = train[columns].reset_index(drop=True), validation[columns].reset_index(drop=True)
    return train, validation, TextEncoder.fit(train["text"])


def write_channel(directory: Path, train: pd.DataFrame, validation: pd.DataFrame, encoder: TextEncoder) -> Path:
    """A flat data-preparation output dir: train.csv, validation.csv, encoder.json."""
    directory.mkdir(parents=True, exist_ok=True)
    train.to_csv(directory / "train.csv", index=False)
    validation.to_csv(directory / "validation.csv", index=False)
    encoder.save(directory / "encoder.json")
    return directory


@functools.lru_cache(maxsize=1)
def trained_model_dir(root: str) -> tuple[Path, dict]:
    """One small DNN trained and exported once per test process (shared by export and predict tests)."""
    from steps.hsml.training import train_model

    train, validation, encoder = small_splits()
    model_dir = Path(root) / "model"
    result = train_model(train, validation, encoder, {**FAST_HYPERPARAMETERS, "model_type": "dnn", "epochs": 4},
                         model_dir, log=lambda line: None)
    return model_dir, result
