from __future__ import annotations

import pytest

from pipelines.local.caching import parse_expire_after
from pipelines.local.conditions import evaluate_all, evaluate_condition
from pipelines.local.dag import build_dag, topological_order
from pipelines.local.errors import DefinitionError
from pipelines.parameters import ParameterError, check_overrides, parse_assignments, resolve_parameters
from steps.hsml.cli_errors import UsageError
from tests.pipelines.local import fake_pipeline

DECLARED = [
    {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://b/data/"},
    {"Name": "MaxTuningJobs", "Type": "Integer", "DefaultValue": 12},
    {"Name": "QualityThreshold", "Type": "Float", "DefaultValue": 0.3},
    {"Name": "Fast", "Type": "Boolean", "DefaultValue": False},
    {"Name": "Status", "Type": "String", "DefaultValue": "PendingManualApproval",
     "EnumValues": ["PendingManualApproval", "Approved"]},
]


def test_overrides_are_typed_by_the_declared_type():
    values = resolve_parameters(DECLARED, ["MaxTuningJobs=4", "QualityThreshold=0.55", "Fast=TRUE",
                                           "InputDataUri=s3://b/x=y/"])
    assert values == {"InputDataUri": "s3://b/x=y/", "MaxTuningJobs": 4, "QualityThreshold": 0.55, "Fast": True,
                      "Status": "PendingManualApproval"}
    assert resolve_parameters(DECLARED)["MaxTuningJobs"] == 12


@pytest.mark.parametrize("override, message", [
    ("MaxTuningJobs=4.5", "MaxTuningJobs is an Integer: '4.5' is not a whole number"),
    ("QualityThreshold=high", "QualityThreshold is a Float: 'high' is not a number"),
    ("Fast=yes", "Fast is a Boolean"),
    ("Status=Maybe", "Status must be one of PendingManualApproval, Approved"),
    ("Threshold=0.5", "unknown parameter\\(s\\) Threshold; the pipeline's parameters are: InputDataUri"),
    ("QualityThreshold", "--param 'QualityThreshold': write it as Name=Value, e.g. --param QualityThreshold=VALUE"),
    ("=3", "--param '=3': write it as Name=Value"),
])
def test_malformed_overrides_are_refused_with_a_clear_message(override, message):
    with pytest.raises(ParameterError, match=message):
        resolve_parameters(DECLARED, [override])


def test_a_name_given_twice_is_refused_not_last_wins():
    with pytest.raises(ParameterError, match="--param MaxTuningJobs is given twice \\('4' and '6'\\): give it once"):
        parse_assignments(["MaxTuningJobs=4", "QualityThreshold=0.5", "MaxTuningJobs=6"])


def test_parameter_errors_are_usage_errors_with_exit_status_2():
    assert issubclass(ParameterError, UsageError)


def test_parse_assignments_keeps_everything_after_the_first_equals():
    assert parse_assignments(["A=b=c", "B="]) == {"A": "b=c", "B": ""}


def test_check_overrides_converts_only_what_was_given():
    assert check_overrides(DECLARED, {"MaxTuningJobs": "4", "Fast": "false"}) == {"MaxTuningJobs": 4, "Fast": False}


def test_conditions():
    resolve = lambda v: v  # noqa: E731 - literals only
    assert evaluate_condition({"Type": "GreaterThanOrEqualTo", "LeftValue": 0.8, "RightValue": 0.8}, resolve) == (True, "0.8 >= 0.8")
    assert evaluate_condition({"Type": "LessThan", "LeftValue": "0.7", "RightValue": 0.5}, resolve)[0] is False
    assert evaluate_condition({"Type": "Equals", "LeftValue": "a", "RightValue": "a"}, resolve)[0] is True
    assert evaluate_condition({"Type": "In", "QueryValue": "b", "Values": ["a", "b"]}, resolve)[0] is True
    assert evaluate_condition({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, resolve)[0] is False
    assert evaluate_condition({"Type": "Or", "Conditions": [
        {"Type": "Equals", "LeftValue": 1, "RightValue": 2}, {"Type": "GreaterThan", "LeftValue": 3, "RightValue": 2}]}, resolve)[0]
    assert evaluate_all([{"Type": "GreaterThan", "LeftValue": 3, "RightValue": 2},
                         {"Type": "LessThan", "LeftValue": 3, "RightValue": 2}], resolve)[0] is False


@pytest.mark.parametrize("condition, message", [
    ({"Type": "GreaterThan", "LeftValue": 1}, "condition GreaterThan lacks 'RightValue'"),
    ({"LeftValue": 1, "RightValue": 2}, "a condition lacks 'Type'"),
    ({"Type": "Between", "LeftValue": 1, "RightValue": 2}, "condition type 'Between' is not supported"),
    ({"Type": "GreaterThan", "LeftValue": "a", "RightValue": None}, "cannot compare 'a' with None"),
])
def test_malformed_conditions_are_definition_errors(condition, message):
    with pytest.raises(DefinitionError, match=message):
        evaluate_condition(condition, lambda v: v)


def test_dag_flattens_condition_branches_and_orders_by_dependency():
    nodes = build_dag(fake_pipeline.definition())
    assert topological_order(nodes) == ["Preprocess", "Tune", "Evaluate", "CheckQuality", "Register-RegisterModel", "Fail"]
    assert nodes["Tune"].depends_on == {"Preprocess"}
    assert nodes["Evaluate"].depends_on == {"Preprocess", "Tune"}
    assert nodes["CheckQuality"].depends_on == {"Evaluate"}
    assert nodes["Register-RegisterModel"].branch == ("CheckQuality", True)
    assert nodes["Fail"].branch == ("CheckQuality", False)


def test_dag_refuses_unknown_types_cycles_and_dangling_dependencies():
    with pytest.raises(DefinitionError, match="type 'EMR'"):
        build_dag({"Steps": [{"Name": "A", "Type": "EMR", "Arguments": {}}]})
    with pytest.raises(DefinitionError, match="unknown step"):
        build_dag({"Steps": [{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["B"]}]})
    cyclic = build_dag({"Steps": [{"Name": "A", "Type": "Fail", "Arguments": {}, "DependsOn": ["B"]},
                                  {"Name": "B", "Type": "Fail", "Arguments": {}, "DependsOn": ["A"]}]})
    with pytest.raises(DefinitionError, match="cycle"):
        topological_order(cyclic)


def test_expire_after_durations():
    assert parse_expire_after("P30D").days == 30
    assert parse_expire_after("PT1H").total_seconds() == 3600
    assert parse_expire_after("30d").days == 30
    assert parse_expire_after(None) is None
    with pytest.raises(DefinitionError, match="ISO 8601"):
        parse_expire_after("soon")
