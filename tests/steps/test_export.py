"""The exported model dir: in-graph vectoriser == Python encoder, SavedModel == Keras model, layout, serving hook
(against a fake TF Serving: one bad row among good ones, whole-request failures, the copied code on its own)."""
from __future__ import annotations

import filecmp
import importlib.util
import io
import json
import subprocess
import sys
import tarfile
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from steps.hsml import text as text_module
from steps.hsml.encoder import TextEncoder
from steps.hsml.export import SERVING_MODULES, SOURCE_ROOT, pack_model_dir
from steps.hsml.predictor import load_predictor
from steps.hsml.tf_encoder import TFTextVectorizer
from tests.steps.fake_tf_serving import FakeTFServing
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
    assert {"1/saved_model.pb", "code/inference.py", "code/steps/hsml/descriptions.py", "code/steps/hsml/text.py",
            "metadata.json", "encoder.json"} <= names


def test_pack_model_dir_refuses_a_dir_without_a_saved_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="run training first"):
        pack_model_dir(tmp_path, tmp_path / "model.tar.gz")


def _load_hook(model_dir):
    spec = importlib.util.spec_from_file_location("exported_inference", model_dir / "code" / "inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _context(rest_uri, content_type="application/json"):
    """The fields of the container's Context namedtuple that the hook reads."""
    return SimpleNamespace(rest_uri=rest_uri, request_content_type=content_type, accept_header="application/json")


def test_serving_hook_sends_only_good_rows_to_tf_serving_and_answers_every_row_in_order(exported):
    model_dir, _ = exported
    serve = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]

    def saved_model_answer(instances):  # what TF Serving computes with this SavedModel
        out = serve(descriptions=tf.constant(instances))
        return [{"codes": [c.decode() for c in codes], "probabilities": probabilities.tolist()}
                for codes, probabilities in zip(out["codes"].numpy(), out["probabilities"].numpy())]

    hook = _load_hook(model_dir)
    rows = ["Men&#39;s COTTON T-Shirt 2x200ml", "!!!", "wooden chair", 42, "x" * 1_000_000, "steel screws"]
    with FakeTFServing(saved_model_answer) as tfs:
        body, content_type = hook.handler(io.BytesIO(json.dumps({"instances": rows}).encode()), _context(tfs.rest_uri))
    good = [rows[0], rows[2], rows[5]]
    assert tfs.requests == [{"signature_name": "serving_default",
                             "instances": [text_module.normalize_description(r) for r in good]}]
    assert content_type == "application/json"
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == len(rows)
    assert "empty after normalisation" in predictions[1]["error"]
    assert predictions[3] == {"error": "description must be text, got int"}
    assert "1,000,000 characters" in predictions[4]["error"]
    expected = load_predictor(model_dir).predict(good, k=len(predictions[0]["codes"]))
    for answer, top in zip([predictions[0], predictions[2], predictions[5]], expected):
        assert answer["codes"] == [code for code, _ in top]
        np.testing.assert_allclose(answer["probabilities"], [p for _, p in top], rtol=1e-5)


def test_serving_hook_reads_csv_and_plain_text_and_skips_tf_serving_when_no_row_is_good(exported):
    hook = _load_hook(exported[0])
    fake_answer = lambda instances: [{"codes": ["610910"], "probabilities": [0.9]} for _ in instances]  # noqa: E731
    with FakeTFServing(fake_answer) as tfs:
        hook.handler(io.BytesIO(b"steel screws\n\"wooden, chair\"\n"), _context(tfs.rest_uri, "text/csv"))
        hook.handler(io.BytesIO(b"steel screws\n"), _context(tfs.rest_uri, "text/plain; charset=utf-8"))
        body, _ = hook.handler(io.BytesIO(b'["", "..."]'), _context(tfs.rest_uri))
    assert [r["instances"] for r in tfs.requests] == [["steel screws", "wooden chair"], ["steel screws"]]
    assert [set(p) for p in json.loads(body)["predictions"]] == [{"error"}, {"error"}]


def test_a_request_that_cannot_be_read_or_a_tf_serving_failure_fails_the_whole_request(exported):
    hook = _load_hook(exported[0])
    with pytest.raises(ValueError, match="unsupported content type 'image/png'"):
        hook.handler(io.BytesIO(b"..."), _context("http://unused", "image/png"))
    with pytest.raises(ValueError):
        hook.handler(io.BytesIO(b"{not json"), _context("http://unused"))
    with pytest.raises(ValueError, match='"instances"'):
        hook.handler(io.BytesIO(b'{"rows": ["a"]}'), _context("http://unused"))
    with FakeTFServing(lambda instances: [], status=500) as tfs, pytest.raises(RuntimeError, match="answered 500"):
        hook.handler(io.BytesIO(b'["steel screws"]'), _context(tfs.rest_uri))


def test_exported_code_folder_runs_on_its_own_with_the_copied_modules(exported, tmp_path):
    """As in the serving container: a fresh interpreter that knows nothing of this checkout (-I, another cwd)."""
    code_dir = exported[0] / "code"
    for relative in SERVING_MODULES:
        assert filecmp.cmp(code_dir / relative, SOURCE_ROOT / relative, shallow=False), relative  # copies, not forks
    script = textwrap.dedent(f"""
        import importlib.util, io, json, sys, types
        spec = importlib.util.spec_from_file_location("inference", {str(code_dir / "inference.py")!r})
        hook = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(hook)
        print(sys.modules["steps.hsml.descriptions"].__file__)
        context = types.SimpleNamespace(rest_uri=sys.argv[1], request_content_type="application/json")
        print(hook.handler(io.BytesIO(b'["Cotton T-Shirt", 7]'), context)[0])
    """)
    fake_answer = lambda instances: [{"codes": ["610910"], "probabilities": [0.9]} for _ in instances]  # noqa: E731
    with FakeTFServing(fake_answer) as tfs:
        run = subprocess.run([sys.executable, "-I", "-c", script, tfs.rest_uri], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    module_file, answer = run.stdout.splitlines()
    assert module_file == str(code_dir / "steps" / "hsml" / "descriptions.py")
    assert json.loads(answer) == {"predictions": [{"codes": ["610910"], "probabilities": [0.9]},
                                                  {"error": "description must be text, got int"}]}
    assert tfs.requests[0]["instances"] == ["cotton t shirt"]


def test_saved_model_holds_weights_only_not_the_optimizer_state(exported):
    names = [name for name, _ in tf.train.list_variables(str(exported[0] / "1" / "variables" / "variables"))]
    assert not [name for name in names if "optimizer" in name]


def test_parent_levels_are_sums_of_the_full_hs6_distribution_and_score_codes_reads_it(exported):
    model_dir, result = exported
    texts = bundled_rows()["text"].sample(n=50, random_state=8).tolist()
    saved = tf.saved_model.load(str(model_dir / "1"))
    out = saved.signatures["serving_default"](descriptions=tf.constant(texts))
    encoder = TextEncoder.load(model_dir / "encoder.json")
    full = result["model"].predict(list(TFTextVectorizer(encoder, result["hyperparameters"]["max_length"])(texts)),
                                   verbose=0)
    labels = np.array(result["labels"])
    for name, digits in (("hs4", 4), ("hs2", 2)):
        codes, probabilities = out[f"{name}_codes"].numpy().astype(str), out[f"{name}_probabilities"].numpy()
        assert (np.diff(probabilities, axis=1) <= 1e-7).all()  # best first
        for row in range(len(texts)):
            for code, probability in zip(codes[row], probabilities[row]):
                expected = full[row][np.char.startswith(labels, code)].sum()
                assert len(code) == digits and probability == pytest.approx(expected, rel=1e-4, abs=1e-6)
    # the chapter is at least as sure as the heading, the heading as the subheading (a sum over a superset)
    assert (out["hs2_probabilities"].numpy()[:, 0] >= out["hs4_probabilities"].numpy()[:, 0] - 1e-6).all()
    assert (out["hs4_probabilities"].numpy()[:, 0] >= out["probabilities"].numpy()[:, 0] - 1e-6).all()
    chosen = [labels[i % len(labels)] for i in range(len(texts))]
    scores = saved.signatures["score_codes"](descriptions=tf.constant(texts), codes=tf.constant(chosen))
    index = {code: i for i, code in enumerate(labels)}
    np.testing.assert_allclose(scores["probabilities"].numpy(), [full[r][index[c]] for r, c in enumerate(chosen)],
                               rtol=1e-4, atol=1e-6)
    unknown = saved.signatures["score_codes"](descriptions=tf.constant(texts[:1]), codes=tf.constant(["999999"]))
    assert unknown["probabilities"].numpy().tolist() == [0.0]
    metadata = json.loads((model_dir / "metadata.json").read_text())
    assert set(metadata["signature"]["outputs"]) == set(out)
    assert metadata["vagueness"] is None and not (model_dir / "vagueness.json").exists()


def test_export_carries_the_vague_detector_and_refuses_a_malformed_one(exported, tmp_path):
    from steps.hsml.export import write_vagueness
    from steps.hsml.vagueness import FORMAT

    detector = {"format": FORMAT, "intercept": -1.0, "threshold": 0.5, "info": {"recall_held_out": 0.3},
                "features": {"w:gift": [2.0, 5.0]}}
    summary = write_vagueness(detector, tmp_path)
    assert summary == {"threshold": 0.5, "features": 1, "listed": 0, "recall_held_out": 0.3}
    assert json.loads((tmp_path / "vagueness.json").read_text()) == detector
    with pytest.raises(ValueError, match="not a vague-description detector"):
        write_vagueness({"format": "x"}, tmp_path)
