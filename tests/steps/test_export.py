"""The exported model dir: in-graph vectoriser == Python encoder, SavedModel == Keras model, layout, serving hook."""
from __future__ import annotations

import filecmp
import importlib.util
import io
import json
import tarfile
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from steps.hsml import text as text_module
from steps.hsml.encoder import TextEncoder
from steps.hsml.export import pack_model_dir
from steps.hsml.tf_encoder import TFTextVectorizer
from tests.steps.model_fixtures import bundled_rows, trained_model_dir


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))


@pytest.fixture(scope="module")
def real_encoder_and_texts():
    rows = bundled_rows().sample(n=2400, random_state=3)
    encoder = TextEncoder.fit(rows["text"][:2000], max_ngrams_per_word=12)  # small K so truncation is exercised
    held_out = rows["text"][2000:].tolist()  # unseen words and n-grams too
    extra = ["", "0 x 0 ml", "creme brulee 日本語 テスト ß", " ".join(["word"] * 80), "a", "ab"]
    return encoder, held_out + rows["text"][:100].tolist() + extra


def test_tf_vectorizer_equals_the_python_encoder_on_real_texts(real_encoder_and_texts):
    encoder, texts = real_encoder_and_texts
    word_ids, ngram_ids = (t.numpy() for t in TFTextVectorizer(encoder)(texts))
    for i, text in enumerate(texts):
        expected_words, expected_ngrams = encoder.encode(text)
        assert word_ids[i].tolist() == expected_words, text
        assert ngram_ids[i].tolist() == expected_ngrams, text


def test_tf_vectorizer_truncates_to_max_length(real_encoder_and_texts):
    encoder, texts = real_encoder_and_texts
    word_ids, ngram_ids = TFTextVectorizer(encoder, max_length=5)(texts)
    assert word_ids.shape[1:] == (5,) and ngram_ids.shape[1:] == (5, encoder.max_ngrams_per_word)
    full_words, _ = TFTextVectorizer(encoder)(texts)
    np.testing.assert_array_equal(word_ids.numpy(), full_words.numpy()[:, :5])


def test_saved_model_predictions_equal_the_keras_model(exported):
    model_dir, result = exported
    texts = bundled_rows()["text"].sample(n=200, random_state=5).tolist()
    serve = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]
    out = serve(descriptions=tf.constant(texts))
    encoder = TextEncoder.load(model_dir / "encoder.json")
    keras_probabilities = result["model"].predict(
        list(TFTextVectorizer(encoder, result["hyperparameters"]["max_length"])(texts)), verbose=0)
    k = out["codes"].shape[1]
    top = np.argsort(-keras_probabilities, axis=1, kind="stable")[:, :k]
    labels = np.array(result["labels"])
    np.testing.assert_allclose(out["probabilities"].numpy(), np.take_along_axis(keras_probabilities, top, 1),
                               rtol=1e-4, atol=1e-6)
    assert (out["codes"].numpy()[:, 0].astype(str) == labels[top[:, 0]]).all()


def test_model_dir_layout_and_metadata(exported, tmp_path):
    model_dir, result = exported
    assert (model_dir / "1" / "saved_model.pb").exists()
    assert filecmp.cmp(model_dir / "code" / "hsml_text.py", text_module.__file__, shallow=False)  # a copy, not a fork
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert metadata["labels"] == result["labels"]
    assert metadata["metrics"]["val_accuracy"] == result["metrics"]["val_accuracy"]
    assert len(metadata["training_data_sha256"]) == 64
    assert {"tensorflow", "numpy", "python"} <= set(metadata["versions"])
    assert metadata["hyperparameters"]["model_type"] == "dnn"
    assert metadata["encoder"]["word_vocab_size"] == TextEncoder.load(model_dir / "encoder.json").word_vocab_size

    tar_path = pack_model_dir(model_dir, tmp_path / "model.tar.gz")
    with tarfile.open(tar_path) as archive:
        names = set(archive.getnames())
    assert {"1/saved_model.pb", "code/inference.py", "code/hsml_text.py", "metadata.json", "encoder.json"} <= names


def test_pack_model_dir_refuses_a_dir_without_a_saved_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="run training first"):
        pack_model_dir(tmp_path, tmp_path / "model.tar.gz")


def _load_hook(model_dir):
    spec = importlib.util.spec_from_file_location("exported_inference", model_dir / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_serving_hook_normalises_then_builds_the_tfs_request_and_answers_json(exported):
    model_dir, _ = exported
    hook = _load_hook(model_dir)
    context = SimpleNamespace(request_content_type="application/json")
    body = io.BytesIO(json.dumps({"instances": ["Men&#39;s COTTON T-Shirt 2x200ml"]}).encode())
    request = json.loads(hook.input_handler(body, context))
    assert request == {"signature_name": "serving_default",
                       "instances": [text_module.normalize_description("Men&#39;s COTTON T-Shirt 2x200ml")]}

    serve = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]
    out = serve(descriptions=tf.constant(request["instances"]))
    tfs_body = {"predictions": [{"codes": [c.decode() for c in out["codes"].numpy()[0]],
                                 "probabilities": out["probabilities"].numpy()[0].tolist()}]}
    response = SimpleNamespace(status_code=200, content=json.dumps(tfs_body).encode())
    payload, content_type = hook.output_handler(response, context)
    assert content_type == "application/json"
    assert json.loads(payload)["predictions"][0]["codes"] == tfs_body["predictions"][0]["codes"]


def test_serving_hook_accepts_csv_and_names_a_bad_row(exported):
    hook = _load_hook(exported[0])
    csv_request = json.loads(hook.input_handler(io.BytesIO(b"steel screws\nwooden chair\n"),
                                                SimpleNamespace(request_content_type="text/csv")))
    assert csv_request["instances"] == ["steel screws", "wooden chair"]
    with pytest.raises(ValueError, match="row 1: .*empty after normalisation"):
        hook.input_handler(io.BytesIO(json.dumps(["ok text", "!!!"]).encode()),
                           SimpleNamespace(request_content_type="application/json"))


def test_saved_model_holds_weights_only_not_the_optimizer_state(exported):
    names = [name for name, _ in tf.train.list_variables(str(exported[0] / "1" / "variables" / "variables"))]
    assert not [name for name in names if "optimizer" in name]
