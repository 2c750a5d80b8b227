import json
import os

import boto3
import pytest
from moto import mock_aws

from pipelines.serving.weights import LocalWeightsStore, SsmWeightsStore, weights_from_text
from steps.hsml.cli_errors import UsageError


def _touch_later(path):
    """A rewrite within the file system's timestamp granularity must still count as a change."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_local_store_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "serving" / "hs-code" / "weights.json"
    store = LocalWeightsStore(path)
    store.write({"champion": 4, "challenger": 1})
    assert json.loads(path.read_text()) == {"challenger": 0.2, "champion": 0.8}
    assert store.read() == {"challenger": 0.2, "champion": 0.8}
    assert sorted(p.name for p in path.parent.iterdir()) == ["weights.json"]  # no temporary left behind


def test_local_store_rereads_after_a_change(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text('{"champion": 1}')
    store = LocalWeightsStore(path)
    assert store.read() == {"champion": 1.0}
    path.write_text('{"champion": 1, "challenger": 1}')
    _touch_later(path)
    assert store.read() == {"champion": 0.5, "challenger": 0.5}
    LocalWeightsStore(path).write({"champion": 0.9, "challenger": 0.1})  # another process, e.g. the A/B job
    _touch_later(path)
    assert store.read() == {"challenger": 0.1, "champion": 0.9}


def test_local_store_missing_or_broken_file(tmp_path):
    path = tmp_path / "weights.json"
    with pytest.raises(UsageError, match="no weights file at .*weights.json"):
        LocalWeightsStore(path).read()
    path.write_text("{not json")
    with pytest.raises(UsageError, match="weights in .*weights.json"):
        LocalWeightsStore(path).read()


def test_local_store_keeps_the_last_good_weights_when_the_file_breaks(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text('{"champion": 1}')
    store = LocalWeightsStore(path)
    assert store.read() == {"champion": 1.0}
    path.write_text('{"champion": -1}')
    _touch_later(path)
    assert store.read() == {"champion": 1.0}
    path.unlink()
    assert store.read() == {"champion": 1.0}


def test_weights_text_forms():
    assert weights_from_text('{"a": 1, "b": 3}', "here") == {"a": 0.25, "b": 0.75}
    assert weights_from_text("a=1,b=3", "here") == {"a": 0.25, "b": 0.75}
    with pytest.raises(UsageError, match="weights in here: expected a JSON object"):
        weights_from_text("[1, 2]", "here")


@pytest.fixture
def ssm():
    with mock_aws():
        yield boto3.client("ssm", region_name="eu-west-1")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_ssm_store_caches_for_its_ttl_then_rereads(ssm):
    clock = Clock()
    store = SsmWeightsStore(ssm, "/hs-code/weights", ttl_seconds=10, clock=clock)
    with pytest.raises(UsageError, match="cannot read the weights from SSM parameter /hs-code/weights"):
        store.read()
    store.write({"champion": 0.8, "challenger": 0.2})
    assert json.loads(ssm.get_parameter(Name="/hs-code/weights")["Parameter"]["Value"]) == \
        {"challenger": 0.2, "champion": 0.8}
    ssm.put_parameter(Name="/hs-code/weights", Value="champion=1,challenger=1", Type="String", Overwrite=True)
    clock.now = 9.9
    assert store.read() == {"challenger": 0.2, "champion": 0.8}  # still cached
    clock.now = 10.0
    assert store.read() == {"challenger": 0.5, "champion": 0.5}


def test_ssm_store_keeps_the_last_good_weights_on_bad_text_or_a_deleted_parameter(ssm):
    clock = Clock()
    ssm.put_parameter(Name="w", Value='{"champion": 1}', Type="String")
    store = SsmWeightsStore(ssm, "w", ttl_seconds=1, clock=clock)
    assert store.read() == {"champion": 1.0}
    ssm.put_parameter(Name="w", Value="champion=oops", Type="String", Overwrite=True)
    clock.now = 5
    assert store.read() == {"champion": 1.0}
    ssm.delete_parameter(Name="w")
    clock.now = 10
    assert store.read() == {"champion": 1.0}
