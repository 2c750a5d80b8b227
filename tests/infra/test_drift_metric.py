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


def test_the_drift_step_publishes_what_the_alarm_watches(tmp_path, monkeypatch):
    """DriftCheck's own arguments (from the built definition) run the job against moto's CloudWatch: the metric
    it puts has the alarm's namespace, name and dimension, valued with the group the schedule passes."""
    import json

    import boto3
    from moto import mock_aws

    from pipelines.local.offline import build_offline
    from steps import monitor
    from tests.pipelines.monitoring.test_pipeline import MODULE, pack, write_served_traffic
    from tests.pipelines.monitoring.test_drift import fake_model_dir

    (step,) = [s for s in json.loads(build_offline(MODULE, stage_data=False).definition)["Steps"]
               if s["Name"] == "DriftCheck"]
    arguments = step["Arguments"]["AppSpecification"]["ContainerArguments"]
    flags = dict(zip(arguments[::2], arguments[1::2]))
    assert flags["--group"] == {"Get": "Parameters.ModelPackageGroup"}
    assert flags["--metric-sink"] == {"Get": "Parameters.DriftMetricSink"}

    stacks = resolved_stacks()
    alarm = stacks["retraining-rules.yml"].resource("DriftAlarm")["Properties"]
    target = stacks["monitoring.yml"].resource("AnalysisSchedule")["Properties"]["Target"]
    given = {p["Name"]: p["Value"] for p in target["SageMakerPipelineParameters"]["PipelineParameterList"]}
    pack(fake_model_dir(tmp_path / "model"), tmp_path / "models" / "champion" / "model.tar.gz")
    write_served_traffic(tmp_path / "capture", 150)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        assert monitor.main(["--model-dir", str(tmp_path / "models"), "--capture-dir", str(tmp_path / "capture"),
                             "--output-dir", str(tmp_path / "out"), "--window-hours", given["DriftWindowHours"],
                             "--group", given["ModelPackageGroup"], "--metric-sink", given["DriftMetricSink"]]) == 0
        (metric,) = boto3.client("cloudwatch").list_metrics()["Metrics"]
    assert (metric["Namespace"], metric["MetricName"]) == (alarm["Namespace"], alarm["MetricName"])
    assert metric["Dimensions"] == alarm["Dimensions"]
