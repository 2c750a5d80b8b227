"""The local model host: resolving --model, unpacking model.tar.gz once, importing each model's own hook in
isolation, the container-shaped context, and the one replaced function (the hook's TF Serving call)."""
from __future__ import annotations

import importlib.util
import io
import json
import shutil
import sys
import textwrap

import pytest
import tensorflow as tf

import steps.hsml.descriptions
from pipelines.registry import LocalRegistry
from pipelines.serving.frontend import BackendError
from pipelines.serving.model_host import LoadedModel, LocalBackend, ModelSource, prepare_model_dir, resolve_model
from steps.hsml.cli_errors import UsageError
from tests.steps.fake_tf_serving import FakeTFServing

GROUP = "hs-code-classifier"


def loaded(model_dir, variant="champion") -> LoadedModel:
    return LoadedModel(variant, ModelSource(str(model_dir), model_dir, model_dir.name, None), model_dir,
                       max_batch=64, max_wait_s=0)


def copy_with_hook(model_dir, target, hook_source: str | None):
    """A copy of the model whose code/inference.py is `hook_source` (None: no code/ at all)."""
    shutil.copytree(model_dir, target)
    if hook_source is None:
        shutil.rmtree(target / "code")
    else:
        (target / "code" / "inference.py").write_text(textwrap.dedent(hook_source))
    return target


def test_a_path_resolves_to_itself_and_a_tar_is_named_by_its_content(model_dir, model_tar):
    as_dir = resolve_model(str(model_dir))
    assert (as_dir.path, as_dir.model_version, as_dir.accept_threshold) == (model_dir, model_dir.name, None)
    as_tar = resolve_model(str(model_tar))
    assert as_tar.model_version.startswith("model.tar.gz@") and len(as_tar.model_version) == len("model.tar.gz@") + 12


def test_registry_refs_resolve_to_the_artifact_version_and_accept_threshold(tmp_path, model_tar):
    registry = LocalRegistry(home=tmp_path / "home")
    first = registry.register(GROUP, str(model_tar), metrics={"accept_threshold": 0.42, "accuracy": 0.5,
                                                              "accept_threshold_hs4": 0.3, "accept_threshold_hs2": 1.01})
    registry.approve(first.arn, by="test", reason="good")
    registry.register(GROUP, str(model_tar), metrics={"accuracy": 0.6}, execution_id="second")
    for ref in ("latest-approved", "1", first.arn):
        source = resolve_model(ref, registry=registry)
        assert (source.model_version, source.accept_threshold) == ("1", 0.42)
        assert source.parent_thresholds == {"hs4": 0.3, "hs2": 1.01}
        assert source.path.read_bytes() == model_tar.read_bytes()
    pending = resolve_model("2", registry=registry)
    assert (pending.accept_threshold, pending.status) == (None, "PendingManualApproval")  # registered without one
    assert pending.parent_thresholds == {}
    assert resolve_model("1", registry=registry).status == "Approved"


def test_no_approved_version_says_how_to_approve_one_or_pass_a_path(tmp_path):
    registry = LocalRegistry(home=tmp_path / "home")
    with pytest.raises(UsageError, match=r"hscode registry approve.*--model PATH"):
        resolve_model("latest-approved", registry=registry)
    with pytest.raises(UsageError, match="not found: give a model.tar.gz"):
        resolve_model(str(tmp_path / "missing.tar.gz"), registry=registry)


def test_a_tar_is_extracted_once_into_the_cache_by_its_sha256(model_tar, tmp_path):
    first = prepare_model_dir(model_tar, tmp_path / "cache")
    marker = first / "marker"
    marker.write_text("still here")
    second = prepare_model_dir(model_tar, tmp_path / "cache")
    assert first == second and marker.exists()  # not extracted again
    assert len(first.name) == 64 and (first / "1" / "saved_model.pb").is_file()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [first.name]  # no partial extraction left behind


def test_an_unreadable_archive_or_a_folder_without_a_saved_model_is_a_usage_error(tmp_path):
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(UsageError, match="cannot read model archive"):
        prepare_model_dir(broken, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="holds no SavedModel"):
        prepare_model_dir(tmp_path / "empty", tmp_path / "cache")


def test_the_in_process_call_gets_the_same_tf_serving_body_and_gives_the_same_answer_as_http(model_dir):
    """The hook run as SageMaker runs it (HTTP to a TF Serving stand-in computing with the same SavedModel)
    and as the local host runs it give the same TF Serving request and the same answer."""
    serve = tf.saved_model.load(str(model_dir / "1")).signatures["serving_default"]

    def saved_model_answer(instances):
        out = serve(descriptions=tf.constant(instances))
        return [{"codes": [c.decode() for c in codes], "probabilities": probabilities.tolist()}
                for codes, probabilities in zip(out["codes"].numpy(), out["probabilities"].numpy())]

    spec = importlib.util.spec_from_file_location("hook_over_http", model_dir / "code" / "inference.py")
    over_http = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(over_http)
    body = json.dumps({"instances": ["Men&#39;s COTTON T-Shirt", 42, "", "steel screws", "x" * 3000]}).encode()
    model = loaded(model_dir)
    seen = []
    predict = model.emulator.predict
    model.emulator.predict = lambda uri, tfs_body: seen.append(json.loads(tfs_body)) or predict(uri, tfs_body)
    try:
        local = model.invoke(body, "application/json", None)
        with FakeTFServing(saved_model_answer) as tfs:
            context = model.context(body, "application/json", None)._replace(rest_uri=tfs.rest_uri)
            remote_body, remote_type = over_http.handler(io.BytesIO(body), context)
    finally:
        model.close()
    assert seen == tfs.requests  # same TF Serving body
    assert local.content_type == remote_type == "application/json"
    local_rows, remote_rows = json.loads(local.body)["predictions"], json.loads(remote_body)["predictions"]
    assert [r.get("codes") or r["error"] for r in local_rows] == [r.get("codes") or r["error"] for r in remote_rows]
    assert [len(r.get("probabilities", [])) for r in local_rows] == [10, 0, 0, 10, 0]


def test_each_model_runs_its_own_copy_of_the_hook_modules(model_dir, tmp_path):
    other = shutil.copytree(model_dir, tmp_path / "other")
    descriptions = other / "code" / "steps" / "hsml" / "descriptions.py"
    descriptions.write_text(descriptions.read_text().replace('"description must be text', '"MODEL B: must be text'))
    path_before, module_before = list(sys.path), sys.modules["steps.hsml.descriptions"]
    a, b = loaded(model_dir, "champion"), loaded(other, "challenger")
    try:
        answers = [json.loads(m.invoke(b"[42]", "application/json", None).body)["predictions"][0]["error"]
                   for m in (a, b, a)]
    finally:
        a.close()
        b.close()
    assert answers == ["description must be text, got int", "MODEL B: must be text, got int",
                       "description must be text, got int"]
    assert sys.path == path_before
    assert sys.modules["steps.hsml.descriptions"] is module_before is steps.hsml.descriptions
    assert a.hook.check_description.__module__ == "steps.hsml.descriptions"
    assert a.hook.check_description is not steps.hsml.descriptions.check_description  # the model's copy


def test_the_context_is_shaped_like_the_containers_and_reads_tfs_custom_attributes(model_dir, tmp_path):
    echo = copy_with_hook(model_dir, tmp_path / "echo", """
        import json

        def post_to_tf_serving(rest_uri, body):
            raise AssertionError("not called")

        def handler(data, context):
            return json.dumps({"body": data.read().decode(), **context._asdict()}), "application/json"
    """)
    model = loaded(echo)
    try:
        plain = json.loads(model.invoke(b'["a"]', "application/json", None).body)
        custom = json.loads(model.invoke(b"a,b", "text/csv", "tfs-model-name=model,tfs-model-version=1,x=y").body)
    finally:
        model.close()
    assert list(plain) == ["body", "model_name", "model_version", "method", "rest_uri", "grpc_port", "channel",
                           "custom_attributes", "request_content_type", "accept_header", "content_length"]
    assert plain["body"] == '["a"]' and plain["content_length"] == 5
    assert plain["rest_uri"] == "http://localhost:8501/v1/models/model:predict" and plain["model_name"] is None
    assert plain["request_content_type"] == plain["accept_header"] == "application/json"
    assert custom["rest_uri"] == "http://localhost:8501/v1/models/model/versions/1:predict"
    assert (custom["model_name"], custom["model_version"], custom["request_content_type"]) == ("model", "1", "text/csv")
    assert custom["custom_attributes"] == "tfs-model-name=model,tfs-model-version=1,x=y"


def test_a_tf_serving_error_and_a_hook_exception_become_a_500_with_the_hooks_message(model_dir, tmp_path):
    model = loaded(model_dir)
    try:
        with pytest.raises(BackendError) as raised:
            model.invoke(b'["steel screws"]', "application/json", "tfs-model-name=other")
    finally:
        model.close()
    assert raised.value.status == 500
    assert raised.value.message.startswith("TensorFlow Serving answered 404: ")
    assert "Servable not found for request: Latest(other)" in raised.value.message
    failing = loaded(copy_with_hook(model_dir, tmp_path / "failing", """
        def post_to_tf_serving(rest_uri, body):
            return []

        def handler(data, context):
            raise ValueError("this hook always fails")
    """))
    try:
        with pytest.raises(BackendError, match="this hook always fails") as raised:
            failing.invoke(b'["a"]', "application/json", None)
    finally:
        failing.close()
    assert raised.value.status == 500


def test_input_and_output_handlers_and_no_hook_get_the_containers_own_glue(model_dir, tmp_path):
    pair = loaded(copy_with_hook(model_dir, tmp_path / "pair", """
        import json

        def input_handler(data, context):
            return json.dumps({"instances": json.loads(data.read())})

        def output_handler(response, context):
            return json.dumps({"status": response.status_code, "top": [p["codes"][0] for p in
                               response.json()["predictions"]]}), context.accept_header
    """))
    bare = loaded(copy_with_hook(model_dir, tmp_path / "bare", None))
    try:
        paired = json.loads(pair.invoke(b'["steel screws", "cotton shirt"]', "application/json", None).body)
        raw = json.loads(bare.invoke(b'{"instances": ["steel screws"]}', "application/json", None).body)
    finally:
        pair.close()
        bare.close()
    assert paired["status"] == 200 and len(paired["top"]) == 2
    assert set(raw["predictions"][0]) == {"codes", "probabilities", "hs4_codes", "hs4_probabilities", "hs2_codes",
                                          "hs2_probabilities"}  # TF Serving's own answer, passed through


def test_a_hook_the_container_would_refuse_or_cannot_be_stood_in_for_is_refused_at_load(model_dir, tmp_path):
    for name, source, message in [
        ("none", "x = 1\n", "defines neither handler"),
        ("direct", "def handler(data, context):\n    return '', 'application/json'\n", "post_to_tf_serving"),
        ("broken", "import no_such_module_anywhere\n", "does not import"),
    ]:
        with pytest.raises(UsageError, match=message):
            loaded(copy_with_hook(model_dir, tmp_path / name, source))


def test_the_backend_serves_each_variant_and_reports_thresholds_and_batching(model_dir, model_tar, tmp_path):
    backend = LocalBackend({"champion": ModelSource("a", model_dir, "a", 0.4),
                            "challenger": ModelSource("b", model_tar, "b", None)}, tmp_path / "cache")
    assert not backend.ready
    with pytest.raises(BackendError) as raised:
        backend.invoke("champion", b'["a"]', "application/json", None)
    assert raised.value.status == 503
    backend.load()
    try:
        assert backend.ready
        assert backend.thresholds() == {"champion": 0.4, "challenger": None}
        assert backend.thresholds(0.9) == {"champion": 0.9, "challenger": 0.9}
        result = backend.invoke("challenger", b"steel screws\n", "text/csv", None)
        assert result.model_version == "b" and len(json.loads(result.body)["predictions"]) == 1
        stats = backend.stats()
        assert stats["challenger"]["model_calls"] == 1 and stats["champion"]["model_calls"] == 0
    finally:
        backend.close()
