"""The experiment plan: sizing, defaults, and refusing malformed plans."""
from __future__ import annotations

import json

import pytest

from steps.hsml import ab_plan, ab_stats
from steps.hsml.cli_errors import UsageError

MINIMAL = {"champion": "champion", "challenger": "challenger", "weights": {"champion": 0.8, "challenger": 0.2},
           "alpha": 0.05, "power": 0.8, "mde": 0.03, "looks": 3, "max_n_per_arm": 4000}


def test_fixed_sample_size_matches_the_textbook_numbers():
    # ARCHITECTURE.md ("A/B statistics"): from 70 %, +3 points needs ~3.6k per arm, +5 points ~1.25k
    # (Fleiss's formula without continuity correction gives 3,554 and 1,251).
    assert ab_plan.sample_size_per_arm(0.70, 0.03, 0.05, 0.8) == 3554
    assert ab_plan.sample_size_per_arm(0.70, 0.05, 0.05, 0.8) == 1251


def test_sequential_size_is_inflated_by_the_computed_factor():
    fixed = ab_plan.sample_size_per_arm(0.38, 0.03, 0.05, 0.8, looks=1)
    seq = ab_plan.sample_size_per_arm(0.38, 0.03, 0.05, 0.8, looks=3)
    assert seq > fixed
    assert seq == pytest.approx(fixed * ab_stats.inflation_factor(3, 0.05, 0.8), abs=1.0)


def test_minimal_plan_is_valid_and_round_trips():
    plan = ab_plan.plan_from_dict(MINIMAL)
    assert plan.metric == "hs6" and plan.guardrails.latency_p95_ratio == 1.2
    assert plan.label_window_hours == 72 and plan.fractions == pytest.approx([1 / 3, 2 / 3, 1])
    assert plan.boundaries == pytest.approx([3.7103, 2.5114, 1.9930], abs=2e-4)
    again = ab_plan.plan_from_dict(json.loads(json.dumps(ab_plan.plan_to_dict(plan))))
    assert again == plan and ab_plan.plan_hash(again) == ab_plan.plan_hash(plan)


def test_make_plan_fills_size_and_boundaries():
    plan = ab_plan.make_plan("a", "b", {"a": 0.5, "b": 0.5}, baseline=0.38, looks=2, metric="hs4")
    assert plan.max_n_per_arm == ab_plan.sample_size_per_arm(0.38, 0.03, 0.05, 0.8, looks=2)
    assert len(plan.boundaries) == 2 and plan.baseline_accuracy == 0.38 and plan.metric == "hs4"


def test_hash_changes_with_the_plan():
    a = ab_plan.plan_from_dict(MINIMAL)
    b = ab_plan.plan_from_dict({**MINIMAL, "max_n_per_arm": 4001})
    assert ab_plan.plan_hash(a) != ab_plan.plan_hash(b)


@pytest.mark.parametrize("change, field", [
    ({"alpha": 1.5}, "alpha"),
    ({"power": "high"}, "power"),
    ({"looks": 0}, "looks"),
    ({"max_n_per_arm": -3}, "max_n_per_arm"),
    ({"metric": "hs2"}, "metric"),
    ({"weights": {"champion": 1.0}}, "weights"),
    ({"challenger": "champion"}, "challenger"),
    ({"boundaries": [2.0, 2.0]}, "boundaries"),
    ({"information_fractions": [0.5, 0.4, 1.0]}, "information_fractions"),
    ({"guardrails": {"latency_p95_ratio": "x"}}, "latency_p95_ratio"),
    ({"guardrails": {"max_latency": 3}}, "guardrails"),
    ({"colour": "red"}, "colour"),
])
def test_malformed_plans_are_refused_naming_the_field(change, field):
    with pytest.raises(UsageError, match=field):
        ab_plan.plan_from_dict({**MINIMAL, **change})


def test_missing_fields_are_named():
    d = dict(MINIMAL)
    del d["mde"]
    with pytest.raises(UsageError, match="mde"):
        ab_plan.plan_from_dict(d)
    with pytest.raises(UsageError, match="JSON object"):
        ab_plan.plan_from_dict([1, 2])


def test_unreachable_effect_is_refused():
    with pytest.raises(UsageError, match="mde"):
        ab_plan.sample_size_per_arm(0.99, 0.03, 0.05, 0.8)


def test_unequal_traffic_sizes_the_smaller_arm():
    # 80/20: the challenger needs fewer rows than at 50/50, the champion ratio times as many; total rows grow.
    equal = ab_plan.sample_size_per_arm(0.38, 0.03, 0.05, 0.8, looks=3)
    small = ab_plan.sample_size_per_arm(0.38, 0.03, 0.05, 0.8, looks=3, ratio=4.0)
    assert 0.55 * equal < small < 0.7 * equal        # about (1 + 1/4) / 2 = 0.625 of it
    assert 5 * small > 2 * equal
    plan = ab_plan.make_plan("a", "b", {"a": 0.8, "b": 0.2}, baseline=0.38)
    assert plan.max_n_per_arm == small
    with pytest.raises(UsageError, match="positive share"):
        ab_plan.make_plan("a", "b", {"a": 1.0}, baseline=0.38)
