"""hscode ab start | analyze | decide on a synthetic experiment in $HSCODE_HOME, through the real CLI."""
from __future__ import annotations

import json

import pytest

from pipelines.cli import main
from pipelines.registry import LocalRegistry
from tests.pipelines.monitoring.conftest import backdate_plan
from tests.pipelines.monitoring.synthetic import ENDPOINT, write_experiment, write_lines
from tests.pipelines.registry.conftest import GROUP

START = ["ab", "start", "--challenger", "2", "--weight", "0.5", "--mde", "0.3", "--looks", "2"]


def _weights(home):
    return json.loads((home / "serving" / ENDPOINT / "weights.json").read_text())


def _start(home, capsys):
    assert main(START) == 0
    out = capsys.readouterr().out
    backdate_plan(home)
    return out


def test_start_records_the_plan_writes_the_weights_and_refuses_a_second_one(home, two_versions, capsys):
    out = _start(home, capsys)
    plan = json.loads((home / "ab" / ENDPOINT / "plan.json").read_text())
    assert plan["models"] == {"champion": "1", "challenger": "2"} and plan["baseline_accuracy"] == 0.5
    assert plan["weights"] == {"champion": 0.5, "challenger": 0.5} and plan["looks"] == 2
    assert plan["max_n_per_arm"] == 39 and len(plan["boundaries"]) == 2
    assert _weights(home) == {"champion": 0.5, "challenger": 0.5}
    assert "39 labelled rows per arm by the last look" in out and "1 at 20 per arm, |z| >= 2.963" in out
    assert "guardrails: challenger p95 latency <= 1.2 x" in out and "label window: 72 h" in out

    assert main(START) == 2
    assert "is still running for endpoint hs-code" in capsys.readouterr().err


def test_start_refuses_the_same_version_as_both_arms(home, two_versions, capsys):
    assert main(START + ["--champion", "2", "--challenger", "2"]) == 2
    assert "both version 2" in capsys.readouterr().err


def test_a_better_challenger_is_promoted_restart_free_and_approved_with_the_reason(home, two_versions, capsys):
    _start(home, capsys)
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 60, "challenger": 60},
                     accuracy={"champion": 0.5, "challenger": 0.97})

    assert main(["ab", "analyze", "--json"]) == 0
    analysis = json.loads(capsys.readouterr().out)
    assert analysis["decision"] == "promote", analysis["reason"]
    assert {"decision", "reason", "variants", "anova", "srm_p_value"} <= set(analysis)
    assert analysis["variants"]["champion"]["n"] == 60 and analysis["inputs"]["read"]["joined"] == 120
    looks = (home / "ab" / ENDPOINT / "looks.jsonl").read_text().splitlines()
    assert len(looks) == 1 and json.loads(looks[0])["analysis"]["decision"] == "promote"

    assert main(["ab", "decide"]) == 0
    out = capsys.readouterr().out
    assert _weights(home) == {"champion": 0.0, "challenger": 1.0}
    version = LocalRegistry().describe(2, GROUP)
    assert version.status == "Approved"
    assert version.history[-1].by == "hscode ab decide"
    assert version.history[-1].reason.startswith(f"A/B {json.loads(looks[0])['experiment']}: promoted, look ")
    assert "experiment closed" in out and "hscode serve --model 2" in out
    assert not (home / "ab" / ENDPOINT / "plan.json").exists()
    (closed,) = (home / "ab" / ENDPOINT / "closed").iterdir()
    assert json.loads((closed / "decision.json").read_text())["decision"] == "promote"
    assert {p.name for p in closed.iterdir()} == {"plan.json", "looks.jsonl", "decision.json"}
    # The next experiment may start; latest-approved, the default champion, is now version 2.
    assert main(["ab", "start", "--challenger", "1", "--weight", "0.5"]) == 0
    assert json.loads((home / "ab" / ENDPOINT / "plan.json").read_text())["models"] == {"champion": "2",
                                                                                       "challenger": "1"}


def test_a_worse_challenger_is_kept_out(home, two_versions, capsys):
    _start(home, capsys)
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 60, "challenger": 60},
                     accuracy={"champion": 0.9, "challenger": 0.3})
    assert main(["ab", "analyze"]) == 0
    out = capsys.readouterr().out
    assert "KEEP" in out and "one-way ANOVA F = " in out and "F = z^2" in out and "Newcombe" in out
    assert main(["ab", "decide"]) == 0
    assert _weights(home) == {"champion": 1.0, "challenger": 0.0}
    assert LocalRegistry().describe(2, GROUP).status == "PendingManualApproval"


def test_continue_changes_nothing_and_invalid_exits_1(home, two_versions, capsys):
    _start(home, capsys)
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 10, "challenger": 10},
                     accuracy={"champion": 0.5, "challenger": 0.5})
    assert main(["ab", "analyze"]) == 0
    assert "CONTINUE" in capsys.readouterr().out
    assert main(["ab", "decide"]) == 0
    assert "nothing changed" in capsys.readouterr().out
    assert _weights(home) == {"champion": 0.5, "challenger": 0.5}

    # A broken assignment: 150 against 40 rows at 50/50 is a sample-ratio mismatch.
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 150, "challenger": 40},
                     accuracy={"champion": 0.5, "challenger": 0.5})
    assert main(["ab", "analyze"]) == 0
    assert "INVALID: sample-ratio mismatch" in capsys.readouterr().out
    assert main(["ab", "decide"]) == 1
    assert "is invalid" in capsys.readouterr().err and _weights(home) == {"champion": 0.5, "challenger": 0.5}
    assert (home / "ab" / ENDPOINT / "plan.json").exists()


def test_bad_input_exits_2_with_the_reason(home, two_versions, capsys, tmp_path):
    assert main(["ab", "analyze"]) == 2
    assert "no A/B experiment is running" in capsys.readouterr().err
    assert main(["ab", "decide"]) == 2
    capsys.readouterr()

    broken = tmp_path / "plan.json"
    broken.write_text('{"champion": "champion", "challenger": "challenger"')
    assert main(["ab", "analyze", "--plan", str(broken)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    broken.write_text('{"champion": "champion"}')
    assert main(["ab", "analyze", "--plan", str(broken)]) == 2
    assert "missing field(s) challenger" in capsys.readouterr().err

    _start(home, capsys)
    assert main(["ab", "decide"]) == 2
    assert "no look at experiment" in capsys.readouterr().err
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 5}, accuracy={"champion": 0.5})
    assert main(["ab", "analyze"]) == 2
    assert "variant challenger of the plan has no capture" in capsys.readouterr().err


@pytest.mark.parametrize("line", ['{"captureData": {"endpointIn', "not json at all"])
def test_a_truncated_capture_line_is_reported_not_a_crash(home, two_versions, capsys, line):
    _start(home, capsys)
    write_experiment(home / "capture", home / "ground-truth", n={"champion": 10, "challenger": 10},
                     accuracy={"champion": 0.5, "challenger": 0.5})
    write_lines(home / "capture" / ENDPOINT / "champion" / "2026/11/20/10" / "59-59-999-truncate.jsonl", [line])
    assert main(["ab", "analyze"]) == 0
    assert "skipped 1 capture and 0 ground-truth line(s)" in capsys.readouterr().out


def test_sizes_prints_make_plans_numbers(capsys):
    assert main(["ab", "sizes", "--baselines", "0.7", "--mdes", "0.03,0.05"]) == 0
    out = capsys.readouterr().out
    assert "| 0.7 | 3,599 (3,554) | 1,267 (1,251) |" in out  # ~3.6k and ~1.25k per arm, as the design says
    assert main(["ab", "sizes", "--mdes", "three"]) == 2


def test_the_worked_example_picks_and_approves_the_champion_and_sizes_the_mde(home, two_versions):
    from pipelines.monitoring.worked_example import pick_versions, smallest_mde
    from steps.hsml.ab_plan import sample_size_per_arm

    two_versions.set_status(1, "Rejected", by="test", reason="so that none is approved")
    champion, challenger = pick_versions(two_versions, GROUP, "2", None)
    assert (champion.version, champion.status, challenger.version) == (2, "Approved", 1)
    mde = smallest_mde(0.33, 2000, 3)
    assert sample_size_per_arm(0.33, mde, 0.05, 0.8, 3) <= 1800 < sample_size_per_arm(0.33, mde - 0.01, 0.05, 0.8, 3)
