"""Python API over an exported model: `load_predictor(path).predict(descriptions, k=5)`.

It checks and normalises each description with the one per-row check (steps/hsml/descriptions.py, the same
code the TF Serving hook runs), then calls the SavedModel's serving_default signature in batches. A bad row
(not text, too long, nothing left after normalisation) gets a per-row error message; it never fails the other
rows.

    predictor = load_predictor("model.tar.gz")            # or an extracted model dir
    predictor.predict(["mens cotton t-shirt"], k=3)        # [[("610910", 0.81), ("610990", 0.07), ...]]
    for row in predictor.predict_rows(descriptions, k=3):  # {"description", "top_k", "error"} per input row
        ...
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from steps.hsml.cli_errors import UsageError
from steps.hsml.descriptions import check_description
from steps.hsml.hashing import sha256_file
from steps.hsml.model_archive import unpack_model_archive

BATCH_SIZE = 1024


@dataclass
class RowPrediction:
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None


class Predictor:
    def __init__(self, model_dir: str | Path):
        import tensorflow as tf

        self._tf = tf
        self.model_dir = Path(model_dir)
        self.metadata = json.loads((self.model_dir / "metadata.json").read_text(encoding="utf-8"))
        saved_model_dir = self.model_dir / self.metadata.get("saved_model_dir", "1")
        self._saved_model = tf.saved_model.load(str(saved_model_dir))  # keep a reference: it owns the variables
        self._serve = self._saved_model.signatures["serving_default"]
        self.max_k = int(self.metadata["signature"]["top_k"])

    def predict_normalised(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        """Top-k for texts already normalised (no checks); one SavedModel call per BATCH_SIZE texts."""
        k = min(k, self.max_k)
        results = []
        for start in range(0, len(texts), BATCH_SIZE):
            out = self._serve(descriptions=self._tf.constant(texts[start : start + BATCH_SIZE], self._tf.string))
            codes, probabilities = out["codes"].numpy()[:, :k], out["probabilities"].numpy()[:, :k]
            results += [[(c.decode("utf-8"), float(p)) for c, p in zip(row_codes, row_probs)]
                        for row_codes, row_probs in zip(codes, probabilities)]
        return results

    def predict_detailed(self, descriptions, k: int = 5) -> list[RowPrediction]:
        """One RowPrediction per input, in order: top_k, or an error for a row that cannot be classified."""
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        rows = [RowPrediction() for _ in descriptions]
        good_rows, good_texts = [], []
        for i, description in enumerate(descriptions):
            normalised, rows[i].error = check_description(description)
            if normalised is not None:
                good_rows.append(i)
                good_texts.append(normalised)
        for i, top_k in zip(good_rows, self.predict_normalised(good_texts, k)):
            rows[i].top_k = top_k
        return rows

    def predict(self, descriptions, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k (code, probability) pairs per description; an empty list for a row that has an error
        (use predict_detailed or predict_rows to get the message)."""
        return [row.top_k for row in self.predict_detailed(descriptions, k)]

    def predict_rows(self, descriptions, k: int = 5) -> list[dict]:
        return [{"description": d, "top_k": row.top_k, "error": row.error}
                for d, row in zip(descriptions, self.predict_detailed(descriptions, k))]


def _extract(tar_path: Path) -> Path:
    """Extract model.tar.gz once into a cache dir keyed by the archive's content hash."""
    target = Path(tempfile.gettempdir()) / "hsml-models" / sha256_file(tar_path)[:20]
    if (target / "metadata.json").exists():
        return target
    return unpack_model_archive(tar_path, target)


def load_predictor(path: str | Path) -> Predictor:
    """A Predictor from a model.tar.gz or an extracted model dir (the one holding metadata.json and 1/)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"model {path} not found: give a model.tar.gz or a model dir from `hscode train`")
    model_dir = _extract(path) if path.is_file() else path
    if not (model_dir / "metadata.json").exists():
        raise UsageError(f"{model_dir} holds no metadata.json: not a model dir written by training (`hscode train`)")
    return Predictor(model_dir)
