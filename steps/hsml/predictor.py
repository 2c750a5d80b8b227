"""Python API over an exported model: `load_predictor(path).predict(descriptions, k=5)`.

It checks and normalises each description with the one per-row check (steps/hsml/descriptions.py, the same
code the TF Serving hook runs), then calls the SavedModel's serving_default signature in batches. A bad row
(not text, too long, nothing left after normalisation) gets a per-row error message; it never fails the other
rows.

    predictor = load_predictor("model.tar.gz")            # or an extracted model dir
    predictor.predict(["mens cotton t-shirt"], k=3)        # [[("610910", 0.81), ("610990", 0.07), ...]]
    for row in predictor.predict_rows(descriptions, k=3):  # {"description", "top_k", "error", ...} per input row
        ...
    predictor.predict_detailed(descriptions, thresholds={"hs6": 0.93, "hs4": 0.9, "hs2": 0.85}, explain=True)

Besides the HS6 top-k, each row has the model's top HS4 headings and HS2 chapters (probabilities summed from the
full HS6 distribution, in the graph), whether the vague detector refuses it (when the model carries one), the
answer of steps/hsml/hierarchy.py (the deepest level that clears its threshold, and the adaptive answer set) and,
on request, occlusion explanations (steps/hsml/explain.py).
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from steps.hsml import explain as explain_module
from steps.hsml import hierarchy
from steps.hsml.cli_errors import UsageError
from steps.hsml.descriptions import check_description
from steps.hsml.hashing import sha256_file
from steps.hsml.model_archive import unpack_model_archive

BATCH_SIZE = 1024


PARENT_LEVELS = ("hs4", "hs2")
VAGUENESS_FILE = "vagueness.json"


@dataclass
class RowPrediction:
    top_k: list[tuple[str, float]] = field(default_factory=list)
    error: str | None = None
    levels: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # "hs6" (= top_k), "hs4", "hs2"
    vague_score: float | None = None  # None: the model carries no vague detector
    vague: bool = False
    answer: dict | None = None  # hierarchy.answer(...)
    explanation: list[dict] | None = None  # explain.explain(...) for the top codes, when asked


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
        self._score = self._saved_model.signatures.get(self.metadata["signature"].get("score_signature", ""))
        self.vague_detector = _load_vague_detector(self.model_dir)

    def predict_levels_normalised(self, texts: list[str], k: int) -> list[dict[str, list[tuple[str, float]]]]:
        """{"hs6": top-k, "hs4": ..., "hs2": ...} for texts already normalised (no checks); one SavedModel call
        per BATCH_SIZE texts. A model exported before the parent levels existed answers "hs6" only."""
        k = min(k, self.max_k)
        results = []
        for start in range(0, len(texts), BATCH_SIZE):
            out = self._serve(descriptions=self._tf.constant(texts[start : start + BATCH_SIZE], self._tf.string))
            columns = {"hs6": _ranked(out["codes"], out["probabilities"], k)}
            for level in PARENT_LEVELS:
                if f"{level}_codes" in out:
                    columns[level] = _ranked(out[f"{level}_codes"], out[f"{level}_probabilities"], k)
            results += [{level: rows[i] for level, rows in columns.items()} for i in range(len(columns["hs6"]))]
        return results

    def predict_normalised(self, texts: list[str], k: int) -> list[list[tuple[str, float]]]:
        """Top-k HS6 for texts already normalised (no checks)."""
        return [levels["hs6"] for levels in self.predict_levels_normalised(texts, k)]

    def score_codes(self, texts: list[str], codes: list[str]) -> list[float]:
        """p(code | text) for each (normalised text, HS6 code) pair, in batches (the score_codes signature)."""
        if self._score is None:
            raise UsageError(f"{self.model_dir}: the model has no score_codes signature (exported before "
                             "explanations existed); retrain it to explain its predictions")
        scores: list[float] = []
        for start in range(0, len(texts), BATCH_SIZE):
            out = self._score(descriptions=self._tf.constant(texts[start : start + BATCH_SIZE], self._tf.string),
                              codes=self._tf.constant(codes[start : start + BATCH_SIZE], self._tf.string))
            scores += [float(p) for p in out["probabilities"].numpy()]
        return scores

    def predict_detailed(self, descriptions, k: int = 5, *, thresholds: dict[str, float | None] | None = None,
                         set_level: float = hierarchy.DEFAULT_SET_LEVEL, explain: bool = False,
                         explain_codes: int = explain_module.DEFAULT_TOP_CODES) -> list[RowPrediction]:
        """One RowPrediction per input, in order: top_k, levels, vagueness and the answer (under `thresholds`,
        {"hs6", "hs4", "hs2"}: none known means no level is sure), or an error for a row that cannot be
        classified; with `explain`, the occlusion weights of the top `explain_codes` codes."""
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        rows = [RowPrediction() for _ in descriptions]
        good_rows, good_texts = [], []
        for i, description in enumerate(descriptions):
            normalised, rows[i].error = check_description(description)
            if normalised is not None:
                good_rows.append(i)
                good_texts.append(normalised)
        for i, text, levels in zip(good_rows, good_texts, self.predict_levels_normalised(good_texts, k)):
            row = rows[i]
            row.top_k, row.levels = levels["hs6"], levels
            if self.vague_detector is not None:
                row.vague_score = self.vague_detector.score(text)
                row.vague = row.vague_score >= self.vague_detector.threshold
            row.answer = hierarchy.answer(levels, thresholds or {}, vague=row.vague, set_level=set_level)
        if explain and good_rows:
            codes = [[code for code, _ in rows[i].top_k[:explain_codes]] for i in good_rows]
            for i, explained in zip(good_rows, explain_module.explain(good_texts, codes, self.score_codes)):
                rows[i].explanation = explained
        return rows

    def predict(self, descriptions, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k (code, probability) pairs per description; an empty list for a row that has an error
        (use predict_detailed or predict_rows to get the message)."""
        return [row.top_k for row in self.predict_detailed(descriptions, k)]

    def predict_rows(self, descriptions, k: int = 5, **options) -> list[dict]:
        """{"description", "top_k", "error", "levels", "vague", "vague_score", "answer", "explanation"} per row
        (options: those of predict_detailed)."""
        return [{"description": d, "top_k": row.top_k, "error": row.error, "levels": row.levels,
                 "vague": row.vague, "vague_score": row.vague_score, "answer": row.answer,
                 "explanation": row.explanation}
                for d, row in zip(descriptions, self.predict_detailed(descriptions, k, **options))]


def _ranked(codes, probabilities, k: int) -> list[list[tuple[str, float]]]:
    return [[(c.decode("utf-8"), float(p)) for c, p in zip(row_codes, row_probs)]
            for row_codes, row_probs in zip(codes.numpy()[:, :k], probabilities.numpy()[:, :k])]


def _load_vague_detector(model_dir: Path):
    """The model's vague detector (vagueness.json), or None for a model without one."""
    from steps.hsml.vagueness import VagueDetector

    path = model_dir / VAGUENESS_FILE
    if not path.is_file():
        return None
    try:
        return VagueDetector.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: not a vague-description detector written by export ({error})") from None


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
