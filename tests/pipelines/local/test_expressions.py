"""Resolution of Get / Std:Join / Std:JsonGet on hand-written definition fragments."""
from __future__ import annotations

import pytest

from pipelines.local.expressions import ResolutionError, Resolver, parse_path

PROPERTIES = {
    "Preprocess": {"ProcessingOutputConfig": {"Outputs": [
        {"OutputName": "prepared", "S3Output": {"S3Uri": "s3://b/p/exec-1/prepared"}},
        {"OutputName": "other", "S3Output": {"S3Uri": "s3://b/p/exec-1/other"}}]}},
    "Tune": {"BestTrainingJob": {"TrainingJobName": "tune-001", "TunedHyperParameters": {"units": "64"}},
             "TrainingJobSummaries": [{"TrainingJobName": "tune-002"}, {"TrainingJobName": "tune-001"}]},
}
REPORT = {"multiclass_classification_metrics": {"accuracy": {"value": 0.8123}}, "per_class": [{"f1": 0.5}]}


def make_resolver(**parameters):
    def step_properties(name):
        if name not in PROPERTIES:
            raise ResolutionError(f"step {name!r} has not succeeded")
        return PROPERTIES[name]

    def property_file(step, name):
        assert (step, name) == ("Evaluate", "EvaluationReport")
        return REPORT

    return Resolver({"QualityThreshold": 0.5, "Name": "x", **parameters},
                    {"PipelineExecutionId": "exec-1"}, step_properties, property_file,
                    read_json_uri=lambda uri: {"uri": uri})


def test_parse_path_handles_names_indexes_and_quoted_keys():
    assert parse_path("Steps.P.Outputs['prepared'].S3Output.S3Uri") == ["Steps", "P", "Outputs", "prepared", "S3Output", "S3Uri"]
    assert parse_path("TrainingJobSummaries[0].TrainingJobName") == ["TrainingJobSummaries", 0, "TrainingJobName"]
    with pytest.raises(ResolutionError, match="cannot parse"):
        parse_path("A..B")


def test_get_parameters_execution_and_step_properties():
    r = make_resolver()
    assert r.resolve({"Get": "Parameters.QualityThreshold"}) == 0.5
    assert r.resolve({"Get": "Execution.PipelineExecutionId"}) == "exec-1"
    assert r.resolve({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['other'].S3Output.S3Uri"}) == "s3://b/p/exec-1/other"
    assert r.resolve({"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}) == "tune-002"
    assert r.resolve({"Get": "Steps.Tune.BestTrainingJob.TunedHyperParameters.units"}) == "64"


def test_resolution_recurses_through_lists_and_dicts_and_keeps_literals():
    r = make_resolver()
    fragment = {"S3Input": {"S3Uri": {"Get": "Parameters.Name"}, "LocalPath": "/opt/ml/x"}, "List": [1, {"Get": "Parameters.Name"}]}
    assert r.resolve(fragment) == {"S3Input": {"S3Uri": "x", "LocalPath": "/opt/ml/x"}, "List": [1, "x"]}


def test_join_renders_numbers_and_nested_expressions():
    r = make_resolver()
    join = {"Std:Join": {"On": "/", "Values": ["s3:/", "b", {"Get": "Execution.PipelineExecutionId"},
                                               {"Get": "Steps.Tune.BestTrainingJob.TrainingJobName"}, "output/model.tar.gz"]}}
    assert r.resolve(join) == "s3://b/exec-1/tune-001/output/model.tar.gz"
    assert r.resolve({"Std:Join": {"On": " ", "Values": ["threshold", {"Get": "Parameters.QualityThreshold"}, True]}}) == "threshold 0.5 true"


def test_json_get_reads_the_property_file_and_the_s3uri_form():
    r = make_resolver()
    value = r.resolve({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                       "Path": "multiclass_classification_metrics.accuracy.value"}})
    assert value == 0.8123
    assert r.resolve({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                      "Path": "per_class[0].f1"}}) == 0.5
    assert r.resolve({"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["s3://b", "e.json"]}},
                                      "Path": "uri"}}) == "s3://b/e.json"


def test_unresolvable_references_say_what_is_wrong():
    r = make_resolver()
    with pytest.raises(ResolutionError, match="unknown parameter 'Nope'"):
        r.resolve({"Get": "Parameters.Nope"})
    with pytest.raises(ResolutionError, match="has not succeeded"):
        r.resolve({"Get": "Steps.Evaluate.ProcessingOutputConfig"})
    with pytest.raises(ResolutionError, match="no entry named 'missing'"):
        r.resolve({"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['missing'].S3Output.S3Uri"})
    with pytest.raises(ResolutionError, match=r"index \[5\] out of range"):
        r.resolve({"Get": "Steps.Tune.TrainingJobSummaries[5].TrainingJobName"})
    with pytest.raises(ResolutionError, match="no 'f1_macro'"):
        r.resolve({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
                                   "Path": "multiclass_classification_metrics.f1_macro.value"}})
