"""analyze(): each decision path, the look logic, guardrails and the audit record."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from steps.hsml import ab_plan, ab_stats
from steps.hsml.ab_analysis import Observation, analyze
from steps.hsml.cli_errors import UsageError

NOW = datetime(2026, 3, 1, 12, 0)
OLD = NOW - timedelta(hours=100)        # past the 72 h label window


def plan(**over):
    d = {"champion": "champion", "challenger": "challenger", "weights": {"champion": 0.5, "challenger": 0.5},
         "alpha": 0.05, "power": 0.8, "mde": 0.03, "looks": 3, "max_n_per_arm": 900}
    d.update(over)
    return ab_plan.plan_from_dict(d)


def arm(variant, n, correct, *, labelled=None, latency=5.0, errors=0, when=OLD, start=0):
    """n rows; the first `correct` labelled ones right, the rest of the labelled wrong, the rest unlabelled."""
    labelled = n if labelled is None else labelled
    rows = []
    for i in range(n):
        error = i >= n - errors
        label = "610910" if i < labelled else None
        predicted = None if error else ("610910" if i < correct else "620990")   # wrong at HS4 too
        rows.append(Observation(variant, f"{variant}-{start + i}", when, predicted, label, latency, error))
    return rows


def both(n, c_champ, c_chall, **kw):
    return arm("champion", n, c_champ, **kw) + arm("challenger", n, c_chall, **kw)


def test_promote_at_the_last_look_reports_everything():
    p = plan()
    r = analyze(p, both(900, 342, 420), now=NOW)      # 38.0 % vs 46.7 %
    assert r["decision"] == "promote" and r["look"] == 3 and r["planned_look"]
    assert r["boundary"] == pytest.approx(p.boundaries[2])
    assert r["variants"]["challenger"] == pytest.approx(
        {"n": 900, "labelled": 900, "accuracy": 420 / 900, "accuracy_hs4": 420 / 900, "error_rate": 0.0,
         "latency_p95_ms": 5.0, "label_coverage": 1.0})
    assert r["z"] == pytest.approx(ab_stats.two_proportion_z(342, 900, 420, 900))
    n = 1800
    assert r["anova"]["f"] == pytest.approx((n - 2) * r["z"] ** 2 / (n - r["z"] ** 2))
    assert "F = (N-2) z^2" in r["f_vs_z"]
    d = r["difference"]
    assert d["estimate"] == pytest.approx(78 / 900) and d["ci_low"] > 0
    assert r["inputs"]["plan_hash"] == ab_plan.plan_hash(p)
    json.dumps(r, allow_nan=False)      # strict JSON, for the look record


def test_worse_challenger_is_kept_early():
    r = analyze(plan(), both(300, 150, 80), now=NOW)
    assert r["look"] == 1 and r["decision"] == "keep" and "worse" in r["reason"]


def test_no_improvement_at_the_last_look_keeps():
    r = analyze(plan(), both(900, 342, 360), now=NOW)
    assert r["decision"] == "keep" and "no significant improvement" in r["reason"]


def test_interim_look_without_crossing_continues():
    r = analyze(plan(), both(300, 114, 130), now=NOW)
    assert r["look"] == 1 and r["planned_look"] and r["decision"] == "continue"


def test_interim_needs_the_steep_boundary():
    # z about 2.4 at look 1 is significant at a fixed horizon but below 3.71: no early promotion.
    r = analyze(plan(), both(300, 114, 143), now=NOW)
    assert 1.96 < r["z"] < r["boundary"] and r["decision"] == "continue"


def test_too_few_labels_continue():
    r = analyze(plan(), both(200, 50, 150), now=NOW)
    assert r["look"] == 0 and r["decision"] == "continue" and "not enough labelled rows" in r["reason"]


def test_peeking_between_looks_never_promotes():
    p = plan()
    first = analyze(p, both(300, 114, 130), now=NOW, history=[])
    assert first["planned_look"]
    # A huge effect right after look 1, before look 2's 600 rows: a peek, so `continue`.
    peek = analyze(p, both(400, 100, 300), now=NOW, history=[first])
    assert peek["decision"] == "continue" and not peek["planned_look"] and "not a planned look" in peek["reason"]
    second = analyze(p, both(600, 228, 330), now=NOW, history=[first, peek])
    assert second["look"] == 2 and second["planned_look"] and second["decision"] == "promote"
    after = analyze(p, both(900, 342, 342), now=NOW, history=[first, peek, second])
    assert after["decision"] == "promote" and "already decided at look 2" in after["reason"]


def test_late_look_recomputes_the_boundary_from_observed_fractions():
    p = plan()
    first = analyze(p, both(450, 171, 180), now=NOW, history=[])      # taken late, at t = 0.5
    assert first["fractions_used"] == [0.5]
    assert first["boundary"] == pytest.approx(ab_stats.group_sequential_boundaries([0.5, 1.0], 0.05)[0])
    second = analyze(p, both(700, 266, 280), now=NOW, history=[first])
    assert second["fractions_used"] == pytest.approx([0.5, 700 / 900])
    assert second["boundary"] == pytest.approx(
        ab_stats.group_sequential_boundaries([0.5, 700 / 900], 0.05)[1])


def test_forced_look_must_have_been_reached():
    r = analyze(plan(), both(300, 114, 130), now=NOW, look=2)
    assert r["decision"] == "continue" and "look 2" in r["reason"]
    with pytest.raises(UsageError, match="looks 1..3"):
        analyze(plan(), both(300, 114, 130), now=NOW, look=4)


def test_sample_ratio_mismatch_is_invalid():
    obs = arm("champion", 1000, 380) + arm("challenger", 800, 400)
    r = analyze(plan(), obs, now=NOW)
    assert r["srm_p_value"] < 0.001 and r["decision"] == "invalid" and "sample-ratio" in r["reason"]


def test_unequal_weights_are_not_an_srm():
    p = plan(weights={"champion": 0.8, "challenger": 0.2})
    obs = arm("champion", 3600, 1368) + arm("challenger", 900, 420)
    r = analyze(p, obs, now=NOW)
    assert r["srm_p_value"] > 0.5 and r["decision"] == "promote"


def test_slow_challenger_fails_the_latency_guardrail():
    obs = arm("champion", 900, 342, latency=10.0) + arm("challenger", 900, 420, latency=13.0)
    r = analyze(plan(), obs, now=NOW)
    assert not r["guardrails"]["latency"]["ok"] and r["decision"] == "invalid" and "latency" in r["reason"]


def test_missing_latency_is_not_held_against_the_challenger():
    obs = arm("champion", 900, 342, latency=10.0) + arm("challenger", 900, 420, latency=None)
    r = analyze(plan(), obs, now=NOW)
    assert r["guardrails"]["latency"]["ok"] and "no latency data" in r["guardrails"]["latency"]["detail"]
    assert r["decision"] == "promote"


def test_more_errors_fail_the_error_guardrail_but_noise_does_not():
    obs = arm("champion", 900, 342, errors=5) + arm("challenger", 900, 420, errors=40)
    r = analyze(plan(), obs, now=NOW)
    assert not r["guardrails"]["error_rate"]["ok"] and r["decision"] == "invalid"
    obs = arm("champion", 900, 342, errors=5) + arm("challenger", 900, 420, errors=8)
    assert analyze(plan(), obs, now=NOW)["guardrails"]["error_rate"]["ok"]


def test_low_label_coverage_is_invalid_but_recent_rows_are_not_missing():
    # 900 labelled plus 9,000 old unlabelled rows per arm: 9 % coverage.
    obs = both(900, 342, 420) + [Observation(v, f"{v}-u{i}", OLD, "610910", None, 5.0, False)
                                 for v in ("champion", "challenger") for i in range(9000)]
    r = analyze(plan(), obs, now=NOW)
    assert not r["guardrails"]["label_coverage"]["ok"] and r["decision"] == "invalid"
    # The same rows inside the label window are still waiting for their label: no breach.
    recent = both(900, 342, 420) + [Observation(v, f"{v}-u{i}", NOW - timedelta(hours=1), "610910", None, 5.0,
                                                False) for v in ("champion", "challenger") for i in range(9000)]
    assert analyze(plan(), recent, now=NOW)["guardrails"]["label_coverage"]["ok"]


def test_hs4_metric_counts_the_heading():
    p = plan(metric="hs4")
    obs = [Observation("champion", str(i), OLD, "610990", "610910", 1.0, False) for i in range(900)]
    obs += [Observation("challenger", f"c{i}", OLD, "620990", "610910", 1.0, False) for i in range(900)]
    r = analyze(p, obs, now=NOW)
    assert r["variants"]["champion"]["accuracy_hs4"] == 1.0 and r["variants"]["champion"]["accuracy"] == 0.0
    assert r["decision"] == "keep"


def test_unknown_variant_and_empty_arm_are_refused():
    with pytest.raises(UsageError, match="does not"):
        analyze(plan(), both(10, 5, 5) + arm("shadow", 3, 1), now=NOW)
    with pytest.raises(UsageError, match="no captured predictions"):
        analyze(plan(), arm("champion", 10, 5), now=NOW)


def test_latency_noise_does_not_fail_an_aa_test_but_a_real_slowdown_does():
    import numpy as np
    rng = np.random.default_rng(5)

    def timed(variant, scale, n=300):
        return [Observation(variant, f"{variant}{i}", OLD, "610910", "610910", float(x), False)
                for i, x in enumerate(rng.lognormal(np.log(scale), 0.4, n))]
    # Same distribution: the p95 point ratio of 300 rows may exceed 1.2, the bound must not.
    same = [analyze(plan(), timed("champion", 20) + timed("challenger", 20), now=NOW) for _ in range(20)]
    assert all(r["guardrails"]["latency"]["ok"] for r in same)
    slow = analyze(plan(), timed("champion", 20, 3000) + timed("challenger", 30, 3000), now=NOW)
    assert not slow["guardrails"]["latency"]["ok"]


def test_mixed_time_zones_are_bad_input():
    from datetime import timezone
    with pytest.raises(UsageError, match="time zone"):
        analyze(plan(), both(10, 5, 5), now=NOW.replace(tzinfo=timezone.utc))
