"""The drift alarm watches exactly what the drift check publishes, with the threshold of the drift rule."""
from __future__ import annotations

from datetime import datetime, timezone

from pipelines.monitoring import drift
from tests.infra.cfn_templates import load_template, resolved_stacks


def _alarm() -> dict:
    return load_template("retraining-rules.yml")["Resources"]["DriftAlarm"]["Properties"]


def test_alarm_watches_the_published_metric_with_the_rule_threshold():
    template = load_template("retraining-rules.yml")
    parameters = template["Parameters"]
    alarm = _alarm()
    assert parameters["DriftMetricNamespace"]["Default"] == drift.NAMESPACE
    assert parameters["DriftMetricName"]["Default"] == drift.METRIC_NAME
    assert float(parameters["DriftThreshold"]["Default"]) == drift.ALARM_THRESHOLD
    assert alarm["Namespace"] == {"Ref": "DriftMetricNamespace"}
    assert alarm["MetricName"] == {"Ref": "DriftMetricName"}
    assert alarm["Threshold"] == {"Ref": "DriftThreshold"}
    assert [d["Name"] for d in alarm["Dimensions"]] == [drift.DIMENSION_NAME]
    assert alarm["Statistic"] == drift.ALARM_STATISTIC
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"  # value 1.0 exactly is not drift (> 1)
    assert alarm["TreatMissingData"] == "notBreaching"  # not enough data publishes nothing: not drift


def test_published_datum_carries_the_alarm_dimension_value():
    resolved = resolved_stacks()["retraining-rules.yml"]
    dimension = resolved.resolve(_alarm()["Dimensions"][0]["Value"])
    datum = drift.metric_datum({"metric": {"value": 1.5}}, dimension, datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert datum["MetricName"] == drift.METRIC_NAME
    assert datum["Dimensions"] == [{"Name": drift.DIMENSION_NAME, "Value": dimension}]
    assert datum["Value"] > float(load_template("retraining-rules.yml")["Parameters"]["DriftThreshold"]["Default"])
    assert drift.metric_datum({"metric": {"value": None}}, dimension) is None


def test_drift_rule_fires_on_the_transition_into_alarm_only():
    rule = load_template("retraining-rules.yml")["Resources"]["DriftRetrainingRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"]["state"] == {"value": ["ALARM"]}
