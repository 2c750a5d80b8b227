"""bench/drift.py --quick: the harness end to end on a small real slice (trains a tiny Text-CNN)."""
import json

from bench import drift as bench_drift


def test_quick_run_writes_the_tables(tmp_path):
    args = bench_drift.parse_args(["--quick", "--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")])
    assert bench_drift.main(["--quick", "--out", str(args.out), "--work", str(args.work)]) == 0
    results = json.loads((args.out / "drift.json").read_text())
    assert [row["n"] for row in results["false_alarms"]] == [100, 200]
    assert {row["source"] for row in results["detection"]} >= {"vague", "nomenclature", "stuffed"}
    for row in results["false_alarms"] + results["detection"]:
        assert 0 <= row["rate"] <= 1 and row["windows"] > 0
    nomenclature = next(row for row in results["detection"] if row["source"] == "nomenclature")
    assert nomenclature["rate"] >= 0.9  # long formal text against short declarations: caught even at n = 100
    markdown = (args.out / "drift.md").read_text()
    assert "`python -m bench.drift --quick`" in markdown and "## False alarms" in markdown


def test_in_domain_pool_is_carved_per_code_and_removed_from_training():
    import pandas as pd

    train = pd.DataFrame({"text": [f"t{i}" for i in range(10)] + ["t0", "u1", "u2"],
                          "hs_code": ["010101"] * 10 + ["010101", "020202", "020202"],
                          "upsampled": ["0"] * 10 + ["1", "0", "0"]})
    rest, pool = bench_drift.carve_in_domain(train, 0.5, seed=1)
    assert len(pool) == 5 and set(pool["hs_code"]) == {"010101"}  # 2-text classes are too small to carve
    assert not set(pool["text"]) & set(rest["text"])  # up-sampled copies of pool texts leave training too
    assert len(rest) + len(pool) + (train["text"].isin(pool["text"]) & (train["upsampled"] == "1")).sum() == 13
