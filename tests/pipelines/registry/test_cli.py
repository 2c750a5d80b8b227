import json

from pipelines.cli import main
from pipelines.registry import LocalRegistry, RegistryError
from tests.pipelines.registry.conftest import GROUP


def _two_versions(stored_model):
    registry = LocalRegistry()
    registry.register(GROUP, stored_model("a"), metrics={"accuracy": 0.71}, execution_id="a")
    registry.register(GROUP, stored_model("b"), metrics={"accuracy": 0.83, "macro_f1": 0.5}, execution_id="b")
    return registry


def test_list_json_shape(home, stored_model, capsys):
    _two_versions(stored_model)
    assert main(["registry", "list", "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in versions] == [1, 2]
    for entry in versions:
        assert {"arn", "version", "status", "created", "metrics"} <= set(entry)
        assert entry["arn"] == f"arn:aws:sagemaker:local:000000000000:model-package/{GROUP}/{entry['version']}"
        assert entry["status"] == "PendingManualApproval"
    assert versions[1]["metrics"] == {"accuracy": 0.83, "macro_f1": 0.5}


def test_list_text_and_status_filter(home, stored_model, capsys):
    _two_versions(stored_model).approve(2, by="alice", reason="ok")
    assert main(["registry", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["VERSION", "STATUS", "CREATED", "METRICS"]
    assert "Approved" in lines[2] and "accuracy=0.83" in lines[2]
    assert main(["registry", "list", "--status", "Approved", "--json"]) == 0
    assert [v["version"] for v in json.loads(capsys.readouterr().out)] == [2]
    assert main(["registry", "list", "--group", "nothing-here"]) == 0
    assert "no versions" in capsys.readouterr().out


def test_approve_by_version_number_records_who_and_why(home, stored_model, capsys, monkeypatch):
    _two_versions(stored_model)
    monkeypatch.setenv("USER", "ci-bot")
    assert main(["registry", "approve", "2", "--reason", "top-1 0.83 on test_fpo", "--json"]) == 0
    approved = json.loads(capsys.readouterr().out)
    assert approved["status"] == "Approved"
    assert approved["approval_description"] == "ci-bot: top-1 0.83 on test_fpo"
    assert approved["history"][-1]["by"] == "ci-bot"

    arn = approved["arn"]
    assert main(["registry", "reject", arn, "--by", "alice", "--reason", "bias"]) == 0
    assert capsys.readouterr().out.strip() == f"{arn} is now Rejected (alice: bias)"
    assert main(["registry", "describe", arn]) == 0
    text = capsys.readouterr().out
    assert "status:       Rejected" in text and "Approved -> Rejected by alice: bias" in text


def test_illegal_transition_exits_2_with_what_is_allowed(home, stored_model, capsys):
    _two_versions(stored_model)
    assert main(["registry", "reject", "1", "--by", "a"]) == 0
    capsys.readouterr()
    assert main(["registry", "reject", "1", "--by", "a"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hscode registry reject: error: ")
    assert "already Rejected; from Rejected it can only go to Approved" in error


def test_any_other_refusal_is_a_failed_command_exit_1(monkeypatch, capsys):
    import pipelines.cli.registry as cli

    class Refusing:
        def list_versions(self, group):
            raise RegistryError(f"cannot read {group}: the registry file is damaged; restore it from a backup")

    monkeypatch.setattr(cli, "get_registry", lambda *args, **kwargs: Refusing())
    assert main(["registry", "list"]) == 1
    assert capsys.readouterr().err == (f"hscode registry list: error: cannot read {GROUP}: the registry file is "
                                       "damaged; restore it from a backup\n")


def test_describe_json_and_unknown_version(home, stored_model, capsys):
    _two_versions(stored_model)
    assert main(["registry", "describe", "1", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert (described["execution_id"], described["checksum"] is not None) == ("a", True)
    assert main(["registry", "describe", "7"]) == 2
    assert "no version 7 in model package group 'hs-code-classifier'" in capsys.readouterr().err


def test_sagemaker_backend_through_the_cli(monkeypatch, capsys):
    import boto3
    from moto import mock_aws

    from pipelines.registry import SageMakerRegistry

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_model_package_group(ModelPackageGroupName=GROUP)
        SageMakerRegistry(client=client).register(GROUP, "s3://b/m/model.tar.gz", image_uri="img",
                                                  metrics={"accuracy": 0.9})
        common = ["--backend", "sagemaker", "--region", "us-east-1"]
        assert main(["registry", "approve", "1", "--by", "alice", "--reason", "ok", *common]) == 0
        capsys.readouterr()
        assert main(["registry", "list", "--json", *common]) == 0
    [version] = json.loads(capsys.readouterr().out)
    assert (version["version"], version["status"], version["metrics"]) == (1, "Approved", {"accuracy": 0.9})
    assert version["arn"] == f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/1"
