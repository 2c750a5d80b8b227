"""How the registry CLI and the run summary print a metric: an accept threshold above 1 reads `never`."""
from __future__ import annotations

from pipelines.registry import metric_text


def test_an_unreachable_accept_threshold_reads_never_and_other_metrics_are_numbers():
    assert metric_text("accept_threshold", 1.01) == "accept_threshold=never"
    assert metric_text("accept_threshold_hs4", 1.01) == "accept_threshold_hs4=never"
    assert metric_text("accept_threshold_hs2", 0.98) == "accept_threshold_hs2=0.98"
    assert metric_text("accuracy", 1.5) == "accuracy=1.5"  # only thresholds mean "never" above 1
    assert metric_text("accuracy", 0.369863, ".4f") == "accuracy=0.3699"
