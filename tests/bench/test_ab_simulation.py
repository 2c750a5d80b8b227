"""The A/B simulation harness: the quick mode end to end, and the report against hand-made rows."""
import json

from bench import ab_simulation
from steps.hsml import ab_plan


def test_quick_mode_writes_both_files_and_the_rule_behaves(tmp_path):
    assert ab_simulation.main(["--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "ab_simulation.json").read_text())
    rows = {r["scenario"]: r for r in saved["scenarios"]}
    assert set(rows) == {"aa", "aa_scheduled", "mde", "harmful", "srm_10", "srm_4"}
    assert all(r["sims"] == 40 for r in rows.values())
    # 40 experiments cannot pin rates down, but a broken rule shows even here.
    assert rows["mde"]["rates"]["promote"]["rate"] > rows["aa"]["rates"]["promote"]["rate"] + 0.3
    assert rows["harmful"]["rates"]["promote"]["count"] == 0
    assert rows["aa"]["naive"]["promote_any_look"]["count"] >= rows["aa"]["rates"]["promote"]["count"]
    text = (tmp_path / "ab_simulation.md").read_text()
    assert "python -m bench.ab_simulation --quick" in text and "## Peeking" in text
    # The report is a function of the JSON alone: --report-only writes the same page.
    (tmp_path / "ab_simulation.md").unlink()
    assert ab_simulation.main(["--report-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "ab_simulation.md").read_text() == text


def test_report_flags_a_missed_target():
    plan = ab_plan.make_plan("champion", "challenger", {"champion": 0.5, "challenger": 0.5}, baseline=0.38)

    def rate(k, n=1000):
        return ab_simulation._rate(k, n)
    row = {"scenario": "mde", "title": "t", "true_accuracy": {"champion": 0.38, "challenger": 0.41},
           "target": "promotion >= power", "sims": 1000,
           "rates": {"promote": rate(700), "keep": rate(300), "invalid": rate(0), "unfinished": rate(0)},
           "keep_at_lower_boundary": rate(0), "mean_labelled_per_arm_at_stop": 3000.0,
           "stopped_by_look": {"1": 10, "2": 400, "3": 590}}
    assert ab_simulation._met(row, plan) == "**NO**"
    row["rates"]["promote"] = rate(795)
    assert ab_simulation._met(row, plan) == "yes, within 2 MC s.e."
    ctx = {"command": "x", "sims": 1000, "seed": 1, "workers": 1, "baseline": 0.38, "mde": 0.03,
           "wall_seconds": 60.0}
    assert "| **NO** |" not in ab_simulation.markdown(plan, [row], ctx)


def test_mc_standard_error_and_rule_of_three():
    r = ab_simulation._rate(50, 2000)
    assert abs(r["mc_se"] - (0.025 * 0.975 / 2000) ** 0.5) < 1e-12
    assert ab_simulation._rate(0, 2000)["upper95"] == 3 / 2000
