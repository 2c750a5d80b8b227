import pytest

from pipelines.registry import RegistryError, resolve_model_uri
from tests.pipelines.registry.conftest import GROUP, write_model_tar


def test_latest_approved_resolves_to_the_mirrored_model_tar(registry, stored_model, home):
    first = registry.register(GROUP, stored_model("a"))
    second = registry.register(GROUP, stored_model("b"))
    registry.register(GROUP, stored_model("c"))  # pending: never picked
    registry.approve(first.arn, by="a", reason="")
    registry.approve(second.arn, by="a", reason="")

    expected = home / "store" / "hs-mlops-artifacts" / "hs-code-pipeline" / "b" / "model.tar.gz"
    assert resolve_model_uri("latest-approved") == str(expected)
    assert resolve_model_uri(first.arn) == str(home / "store/hs-mlops-artifacts/hs-code-pipeline/a/model.tar.gz")
    assert resolve_model_uri("3").endswith("hs-code-pipeline/c/model.tar.gz")
    assert resolve_model_uri(3, registry=registry).endswith("c/model.tar.gz")


def test_plain_path_artifacts_resolve_to_themselves(registry, tmp_path):
    path = write_model_tar(tmp_path / "exported" / "model.tar.gz", "x")
    version = registry.register("other-group", str(path))
    registry.approve(version.arn, by="a", reason="")
    assert resolve_model_uri("latest-approved", group="other-group") == str(path)
    assert resolve_model_uri(str(path)) == str(path)  # not in the registry at all: passed through


def test_nothing_approved_says_how_to_approve(registry, stored_model):
    registry.register(GROUP, stored_model("a"))
    with pytest.raises(RegistryError, match="no approved version in model package group 'hs-code-classifier'.*"
                                            "hscode registry approve"):
        resolve_model_uri("latest-approved")


def test_a_changed_artifact_is_refused(registry, stored_model, home):
    url = stored_model("a")
    registry.approve(registry.register(GROUP, url).arn, by="a", reason="")
    write_model_tar(home / "store" / url[len("s3://"):], "overwritten")
    with pytest.raises(RegistryError, match="changed after registration"):
        resolve_model_uri("latest-approved")
    assert resolve_model_uri("latest-approved", verify=False).endswith("a/model.tar.gz")


def test_a_vanished_artifact_and_nonsense_refs_are_explained(registry, stored_model, home):
    url = stored_model("a")
    registry.register(GROUP, url)
    (home / "store" / url[len("s3://"):]).unlink()
    with pytest.raises(RegistryError, match="does not exist on this machine"):
        resolve_model_uri("1")
    with pytest.raises(RegistryError, match="give `latest-approved`, a model-package ARN, a version number"):
        resolve_model_uri("newest")
