import hashlib
import sqlite3

import pytest

from pipelines.registry import (
    APPROVED,
    PENDING,
    REJECTED,
    IllegalTransition,
    LocalRegistry,
    RegistryError,
    VersionNotFound,
)
from tests.pipelines.registry.conftest import GROUP, write_model_tar

EVALUATION_JSON = {
    "multiclass_classification_metrics": {
        "accuracy": {"value": 0.8125, "standard_deviation": "NaN"},
        "weighted_f1": {"value": 0.79, "standard_deviation": "NaN"},
        "confusion_matrix": {"610910": {"610910": 12, "620520": 1}},
    }
}


def test_register_records_artifact_checksum_metrics_and_lineage(registry, stored_model, home):
    url = stored_model("exec-1")
    version = registry.register(GROUP, url, metrics=EVALUATION_JSON, execution_id="exec-1", data_hash="d41d8cd9")

    expected_sha = hashlib.sha256((home / "store" / url[len("s3://"):]).read_bytes()).hexdigest()
    assert version.arn == f"arn:aws:sagemaker:local:000000000000:model-package/{GROUP}/1"
    assert (version.group, version.version, version.status) == (GROUP, 1, PENDING)
    assert version.model_data_url == url
    assert version.checksum == expected_sha
    assert version.metrics == {"accuracy": 0.8125, "weighted_f1": 0.79}
    assert (version.execution_id, version.data_hash) == ("exec-1", "d41d8cd9")
    assert registry.describe(version.arn) == version
    assert registry.describe("1") == version  # version number in the default group


def test_versions_count_up_per_group(registry, stored_model):
    first = registry.register(GROUP, stored_model("a"), metrics={"accuracy": 0.5})
    second = registry.register(GROUP, stored_model("b"), metrics={"accuracy": 0.6})
    other = registry.register("other-group", stored_model("c"))
    assert [first.version, second.version, other.version] == [1, 2, 1]
    assert [v.version for v in registry.list_versions(GROUP)] == [1, 2]
    assert registry.describe(1, "other-group").arn.endswith("model-package/other-group/1")


def test_same_execution_registers_once(registry, stored_model):
    url = stored_model("exec-7")
    first = registry.register(GROUP, url, execution_id="exec-7")
    again = registry.register(GROUP, url, execution_id="exec-7")
    assert again.arn == first.arn
    assert len(registry.list_versions(GROUP)) == 1


def test_failed_register_leaves_nothing_behind(registry, stored_model, monkeypatch):
    url = stored_model("exec-1")

    def broken_event(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(LocalRegistry, "_insert_event", staticmethod(broken_event))
        with pytest.raises(sqlite3.OperationalError):
            registry.register(GROUP, url, execution_id="exec-1")

    assert registry.list_versions(GROUP) == []
    retried = LocalRegistry().register(GROUP, url, execution_id="exec-1")  # the retry is not blocked
    assert retried.version == 1


def test_missing_artifact_and_wrong_checksum_are_refused(registry, stored_model, home):
    with pytest.raises(RegistryError, match="model artifact not found at .*store/bucket/nothing/model.tar.gz"):
        registry.register(GROUP, "s3://bucket/nothing/model.tar.gz")
    with pytest.raises(RegistryError, match="checksum mismatch"):
        registry.register(GROUP, stored_model("a"), checksum="0" * 64)
    with pytest.raises(RegistryError, match="invalid model package group name"):
        registry.register("bad_group!", stored_model("a"))
    with pytest.raises(IllegalTransition, match="unknown approval status"):
        registry.register(GROUP, stored_model("a"), approval_status="Deployed")
    assert registry.list_versions(GROUP) == []


def test_plain_local_path_is_stored_absolute(registry, tmp_path, monkeypatch):
    write_model_tar(tmp_path / "work" / "model.tar.gz", "plain")
    monkeypatch.chdir(tmp_path / "work")
    version = registry.register(GROUP, "model.tar.gz")
    assert version.model_data_url == str(tmp_path / "work" / "model.tar.gz")


def test_approve_reject_and_history(registry, stored_model):
    arn = registry.register(GROUP, stored_model("a"), execution_id="exec-a").arn

    approved = registry.approve(arn, by="alice", reason="beats v0 on test_fpo")
    assert approved.status == APPROVED
    assert approved.approval_description == "alice: beats v0 on test_fpo"
    rejected = registry.reject("1", by="bob", reason="drift on new traffic")
    assert rejected.status == REJECTED
    again = registry.approve(arn, by="carol", reason="false alarm")

    moves = [(e.from_status, e.to_status, e.by, e.reason) for e in again.history]
    assert moves == [
        (None, PENDING, None, "registered by pipeline execution exec-a"),
        (PENDING, APPROVED, "alice", "beats v0 on test_fpo"),
        (APPROVED, REJECTED, "bob", "drift on new traffic"),
        (REJECTED, APPROVED, "carol", "false alarm"),
    ]


def test_illegal_transitions_say_what_is_allowed(registry, stored_model):
    arn = registry.register(GROUP, stored_model("a")).arn
    registry.approve(arn, by="alice", reason="ok")
    with pytest.raises(IllegalTransition, match="already Approved; from Approved it can only go to Rejected"):
        registry.approve(arn, by="bob", reason="again")
    with pytest.raises(IllegalTransition, match="cannot go from Approved to PendingManualApproval"):
        registry.set_status(arn, PENDING, "bob", "undo")
    assert len(registry.describe(arn).history) == 2  # the refused moves recorded nothing


def test_unknown_refs(registry, stored_model):
    registry.register(GROUP, stored_model("a"))
    with pytest.raises(VersionNotFound, match="no version 9 in model package group"):
        registry.describe("9")
    with pytest.raises(VersionNotFound, match="names no model version"):
        registry.describe("v1")
    with pytest.raises(VersionNotFound, match="not in the local registry"):
        registry.describe("arn:aws:sagemaker:local:000000000000:model-package/other/1")
    with pytest.raises(RegistryError, match="use --backend sagemaker"):
        registry.describe("arn:aws:sagemaker:eu-west-1:123456789012:model-package/hs-code-classifier/1")


def test_latest_approved_is_the_highest_approved_version(registry, stored_model):
    assert registry.latest_approved(GROUP) is None
    for name in "abcd":
        registry.register(GROUP, stored_model(name))
    registry.approve(1, by="a", reason="")
    registry.approve(3, by="a", reason="")
    registry.approve(4, by="a", reason="")
    registry.reject(4, by="a", reason="regression")
    assert registry.latest_approved(GROUP).version == 3
    assert registry.latest_approved("empty-group") is None


def test_register_with_initial_status(registry, stored_model):
    version = registry.register(GROUP, stored_model("a"), approval_status=APPROVED)
    assert registry.latest_approved(GROUP).arn == version.arn
