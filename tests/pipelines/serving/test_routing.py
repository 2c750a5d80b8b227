from collections import Counter

import pytest

from pipelines.serving.routing import Router, RoutingError, parse_weights, routing_key_from, sticky_fraction
from steps.hsml.cli_errors import UsageError


def test_parse_weights_normalises_and_sorts():
    assert parse_weights("champion=0.8, challenger=0.2") == {"challenger": 0.2, "champion": 0.8}
    assert parse_weights("champion=3,challenger=1") == {"challenger": 0.25, "champion": 0.75}
    assert parse_weights("champion=1,challenger=0") == {"challenger": 0.0, "champion": 1.0}


@pytest.mark.parametrize("text, says", [
    ("", "no variants"),
    ("champion", "variant=weight pairs"),
    ("=1", "variant=weight pairs"),
    ("champion=lots", "not a number"),
    ("champion=-1", ">= 0"),
    ("champion=nan", ">= 0"),
    ("champion=inf", ">= 0"),
    ("champion=0,challenger=0", "sum to 0"),
    ("champion=1,champion=2", "given twice"),
    ("champ ion=1", "not valid"),
    ("champion_1=1", "not valid"),
])
def test_parse_weights_refuses_junk_with_a_reason(text, says):
    with pytest.raises(UsageError, match=says):
        parse_weights(text)


def test_same_key_same_variant_in_any_router_with_the_same_weights():
    first = Router({"champion": 0.5, "challenger": 0.5})
    second = Router({"challenger": 0.5, "champion": 0.5})  # insertion order does not matter
    for key in (f"declaration-{i}" for i in range(200)):
        chosen = first.choose(key, request_id="ignored-when-a-key-is-given")
        assert chosen == second.choose(key, request_id="another-request")
        assert chosen == first.choose(None, request_id=key)  # no key: the request id is the key


@pytest.mark.parametrize("weights", [{"champion": 0.8, "challenger": 0.2},
                                     {"a": 0.5, "b": 0.3, "c": 0.2},
                                     {"champion": 0.95, "challenger": 0.05}])
def test_shares_follow_the_weights_over_10k_keys(weights):
    router = Router(weights)
    counts = Counter(router.choose(f"broker-{i}", request_id="r") for i in range(10_000))
    for name, weight in weights.items():
        assert abs(counts[name] / 10_000 - weight) < 0.02, (name, counts)


def test_raising_a_weight_moves_keys_only_towards_that_variant():
    before = Router({"champion": 0.9, "challenger": 0.1})
    after = Router({"champion": 0.8, "challenger": 0.2})
    keys = [f"k{i}" for i in range(5_000)]
    for key in keys:
        if before.choose(key, "r") == "challenger":
            assert after.choose(key, "r") == "challenger"


def test_target_variant_wins_and_reaches_a_weight_zero_variant():
    router = Router({"champion": 1.0, "challenger": 0.0})
    assert {router.choose(f"k{i}", "r") for i in range(2_000)} == {"champion"}
    assert router.choose("k1", "r", target_variant="challenger") == "challenger"
    assert router.variants == ("challenger", "champion")


def test_unknown_target_variant_is_a_routing_error_listing_the_variants():
    router = Router({"champion": 0.8, "challenger": 0.2})
    with pytest.raises(RoutingError, match="no variant named 'shadow'.*challenger, champion"):
        router.choose(None, "r", target_variant="shadow")
    assert issubclass(RoutingError, UsageError)


def test_sticky_fraction_is_in_unit_interval_and_fixed():
    values = [sticky_fraction(f"key{i}") for i in range(1_000)]
    assert all(0 <= v < 1 for v in values)
    assert sticky_fraction("declaration-42") == sticky_fraction("declaration-42")


def test_routing_key_from_header_or_custom_attributes():
    assert routing_key_from({"X-Hscode-Routing-Key": "broker-7"}) == "broker-7"
    assert routing_key_from({"x-hscode-routing-key": " broker-7 "}) == "broker-7"
    assert routing_key_from({"X-Amzn-SageMaker-Custom-Attributes": "tfs-method=predict,routing-key=decl-9"}) \
        == "decl-9"
    assert routing_key_from({"X-Amzn-SageMaker-Custom-Attributes": "routing-key=decl-9"}) == "decl-9"
    assert routing_key_from({"X-Amzn-SageMaker-Custom-Attributes": "my-routing-key=x"}) is None
    assert routing_key_from({"X-Amzn-SageMaker-Custom-Attributes": "routing-key="}) is None
    # the dedicated header wins over the attribute
    assert routing_key_from({"X-Hscode-Routing-Key": "a", "X-Amzn-SageMaker-Custom-Attributes": "routing-key=b"}) \
        == "a"
    assert routing_key_from({}) is None
