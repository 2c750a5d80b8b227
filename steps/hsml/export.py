"""Writes the model directory that SageMaker tars into model.tar.gz, and that TF Serving can serve unchanged.

    <model_dir>/1/                 TensorFlow SavedModel; signature serving_default: descriptions [B] string ->
                                   codes [B, k] string, probabilities [B, k] float32 (vectorising + labels in-graph),
                                   and the same for the heading and the chapter: hs4_codes / hs4_probabilities and
                                   hs2_codes / hs2_probabilities, each level's probability the sum of its HS6
                                   codes' probabilities over the full distribution (so the three levels agree);
                                   signature score_codes: descriptions [B], codes [B] -> probabilities [B]
    <model_dir>/code/inference.py  SageMaker TF Serving hook (checks and normalises each row, then calls TF Serving)
    <model_dir>/code/steps/...     verbatim copies of the modules the hook imports (SERVING_MODULES: the per-row
                                   check and the one normaliser), under their own package path, so the hook's
                                   imports read the same in the source tree and in the container (not a fork)
    <model_dir>/encoder.json       the fitted encoder the graph was built from
    <model_dir>/metadata.json      labels, encoder summary, training-data hash, hyper-parameters, metrics, versions
    <model_dir>/drift_baseline.json  the validation rows' drift features (drift_baseline.py), written by training
    <model_dir>/vagueness.json     the "too vague to classify" detector (steps/hsml/vagueness.py), when data
                                   preparation fitted one; the serving hook and the predictor apply it
"""
from __future__ import annotations

import json
import platform
import shutil
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import tensorflow as tf

from steps.hsml import text as text_module
from steps.hsml.encoder import TextEncoder
from steps.hsml.tf_encoder import TFTextVectorizer

SAVED_MODEL_VERSION = "1"
DEFAULT_EXPORT_TOP_K = 10
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding steps/
SERVING_HOOK = Path(__file__).resolve().parent / "serving" / "inference.py"
# What the hook imports, as paths under SOURCE_ROOT: copied as they are into code/ (keep them free of other
# project imports: test_export checks the copy runs on its own).
SERVING_MODULES = ("steps/__init__.py", "steps/hsml/__init__.py", "steps/hsml/text.py", "steps/hsml/descriptions.py",
                   "steps/hsml/vagueness.py", "steps/hsml/explain.py")
VAGUENESS_FILE = "vagueness.json"
SCORE_SIGNATURE = "score_codes"  # (descriptions, codes) -> probabilities [B]: for explanations
# The parent levels the signature also answers: (output name prefix, digits of the HS6 code it keeps).
PARENT_LEVELS = (("hs4", 4), ("hs2", 2))


class ServingModule(tf.Module):
    """Raw (normalised) strings in, top-k HS codes and probabilities out: everything TF Serving needs in one graph."""

    def __init__(self, model, encoder: TextEncoder, labels: list[str], max_length: int, top_k: int):
        super().__init__(name="hs_code_classifier")
        self.model = _without_optimizer(model)
        self.vectorizer = TFTextVectorizer(encoder, max_length)
        self.labels = tf.constant(labels, tf.string)
        self.top_k = min(top_k, len(labels))
        # Per parent level: its codes, and for every HS6 label the index of its parent (constants in the graph).
        self.parents = {}
        for name, digits in PARENT_LEVELS:
            codes = sorted({label[:digits] for label in labels})
            index = {code: i for i, code in enumerate(codes)}
            self.parents[name] = (tf.constant(codes, tf.string),
                                  tf.constant([index[label[:digits]] for label in labels], tf.int32),
                                  min(top_k, len(codes)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="descriptions")])
    def serve(self, descriptions):
        word_ids, ngram_ids = self.vectorizer(descriptions)
        probabilities = self.model([word_ids, ngram_ids], training=False)
        top = tf.math.top_k(probabilities, k=self.top_k)
        outputs = {"codes": tf.gather(self.labels, top.indices), "probabilities": top.values}
        for name, (codes, parent_of, k) in self.parents.items():
            # [classes, B] summed by parent -> [parents, B]: a heading's probability is its subheadings' sum
            summed = tf.transpose(tf.math.unsorted_segment_sum(tf.transpose(probabilities), parent_of,
                                                               tf.shape(codes)[0]))
            parent_top = tf.math.top_k(summed, k=k)
            outputs[f"{name}_codes"] = tf.gather(codes, parent_top.indices)
            outputs[f"{name}_probabilities"] = parent_top.values
        return outputs

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="descriptions"),
                                  tf.TensorSpec([None], tf.string, name="codes")])
    def score_codes(self, descriptions, codes):
        """The probability of the given HS6 code for each description (0 for a code the model does not know):
        what the occlusion explanations (steps/hsml/explain.py) compare, one call for every variant."""
        word_ids, ngram_ids = self.vectorizer(descriptions)
        probabilities = self.model([word_ids, ngram_ids], training=False)
        match = tf.equal(codes[:, None], self.labels[None, :])
        return {"probabilities": tf.reduce_sum(tf.where(match, probabilities, tf.zeros_like(probabilities)), axis=1)}


def _without_optimizer(model):
    """A copy holding only the weights: the optimizer's slots would triple the SavedModel's size."""
    import keras

    serving_model = keras.Model.from_config(model.get_config())  # clone_model would carry the compile state over
    serving_model.set_weights(model.get_weights())
    return serving_model


def encoder_summary(encoder: TextEncoder) -> dict:
    return {
        "format": encoder.to_dict()["format"], "normalizer_version": text_module.NORMALIZER_VERSION,
        "max_words": encoder.max_words, "ngram_min": encoder.ngram_min, "ngram_max": encoder.ngram_max,
        "max_ngrams_per_word": encoder.max_ngrams_per_word, "word_vocab_size": encoder.word_vocab_size,
        "ngram_vocab_size": encoder.ngram_vocab_size, "fitted_rows": encoder.fitted_rows,
    }


def library_versions() -> dict:
    import keras

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def export_model_dir(
    model,
    encoder: TextEncoder,
    labels: list[str],
    model_dir: str | Path,
    *,
    max_length: int,
    hyperparameters: dict | None = None,
    metrics: dict | None = None,
    training_data_sha256: str | None = None,
    extra_metadata: dict | None = None,
    top_k: int = DEFAULT_EXPORT_TOP_K,
    vagueness: str | Path | dict | None = None,
) -> Path:
    """Write SavedModel, serving hook, encoder and metadata into model_dir (SM_MODEL_DIR); returns model_dir.

    `vagueness`: the vague-description detector data preparation wrote (the path of its vagueness.json, or the
    dict), carried into model_dir/vagueness.json; None leaves the model without one (no row is refused as vague)."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    saved_model_dir = model_dir / SAVED_MODEL_VERSION
    if saved_model_dir.exists():
        shutil.rmtree(saved_model_dir)
    module = ServingModule(model, encoder, labels, max_length, top_k)
    tf.saved_model.save(module, str(saved_model_dir),
                        signatures={"serving_default": module.serve, SCORE_SIGNATURE: module.score_codes})

    write_serving_code(model_dir / "code")
    encoder.save(model_dir / "encoder.json")
    detector = write_vagueness(vagueness, model_dir)

    metadata = {
        "model_format": "tensorflow-savedmodel",
        "saved_model_dir": SAVED_MODEL_VERSION,
        "signature": {"name": "serving_default", "input": "descriptions",
                      "outputs": ["codes", "probabilities"] + [f"{name}_{kind}" for name, _ in PARENT_LEVELS
                                                                for kind in ("codes", "probabilities")],
                      "top_k": module.top_k, "parent_top_k": {name: k for name, (_, _, k) in module.parents.items()},
                      "expects": "text normalised by normalize_description",
                      "score_signature": SCORE_SIGNATURE},
        "vagueness": detector,
        "labels": list(labels),
        "num_classes": len(labels),
        "max_length": module.vectorizer.max_length,
        "encoder": encoder_summary(encoder),
        "training_data_sha256": training_data_sha256,
        "hyperparameters": hyperparameters or {},
        "metrics": metrics or {},
        "versions": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra_metadata or {}),
    }
    (model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    return model_dir


def write_vagueness(vagueness: str | Path | dict | None, model_dir: str | Path) -> dict | None:
    """model_dir/vagueness.json from the detector given (checked by loading it); returns its summary or None."""
    from steps.hsml.vagueness import VagueDetector

    target = Path(model_dir) / VAGUENESS_FILE
    if vagueness is None:
        target.unlink(missing_ok=True)  # nothing stale from an earlier export
        return None
    payload = vagueness if isinstance(vagueness, dict) else json.loads(Path(vagueness).read_text(encoding="utf-8"))
    detector = VagueDetector.from_dict(payload)  # refuses a malformed file now, not at the first request
    target.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return detector.summary()


def write_serving_code(code_dir: str | Path) -> Path:
    """code/inference.py plus verbatim copies of the modules it imports, at their package paths."""
    code_dir = Path(code_dir)
    if code_dir.exists():
        shutil.rmtree(code_dir)  # nothing stale from an earlier export
    code_dir.mkdir(parents=True)
    shutil.copyfile(SERVING_HOOK, code_dir / "inference.py")
    for relative in SERVING_MODULES:
        target = code_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE_ROOT / relative, target)
    return code_dir


def pack_model_dir(model_dir: str | Path, tar_path: str | Path) -> Path:
    """model.tar.gz with the model dir's contents at the archive root, as SageMaker packs SM_MODEL_DIR."""
    model_dir, tar_path = Path(model_dir), Path(tar_path)
    if not (model_dir / SAVED_MODEL_VERSION / "saved_model.pb").exists():
        raise FileNotFoundError(f"{model_dir}: no SavedModel under {SAVED_MODEL_VERSION}/; run training first")
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path, "w:gz") as archive:
        for item in sorted(model_dir.iterdir()):
            if item.resolve() == tar_path.resolve():
                continue
            archive.add(item, arcname=item.name)
    return tar_path
