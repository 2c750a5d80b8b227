"""cfn-lint over every template (zero errors, zero warnings), and the IAM scoping rule.

Scoping rule: no Allow statement grants a wildcard action ("*" or "service:*"), and an Allow on
Resource "*" is only for actions that AWS cannot scope to a resource (or inside a KMS key policy, where
"*" means the key itself).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.infra.cfn_templates import load_template, template_paths

# Actions without resource-level permissions (IAM "Resource types" column empty for them).
UNSCOPABLE_ACTIONS = {"cloudwatch:PutMetricData", "ecr:GetAuthorizationToken", "sagemaker:ListModelPackages"}


def test_infra_has_the_seven_stacks():
    assert {p.name for p in template_paths()} == {
        "model-resources.yml", "model-build.yml", "retraining-rules.yml", "serving.yml", "deploy-on-approval.yml",
        "monitoring.yml", "approved-pointer.yml"}


@pytest.mark.parametrize("path", template_paths(), ids=lambda p: p.name)
def test_cfn_lint_is_clean(path: Path):
    matches = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    problems = [f"{m.rule.id} {m.message} ({path.name}:{m.linenumber})" for m in matches
                if m.rule.id[0] in "EW"]
    assert not problems, "\n".join(problems)


def _policy_documents(template: dict):
    """(where, document, is_key_policy) for every policy document in a template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield f"{logical_id}/{policy['PolicyName']}", policy["PolicyDocument"], False
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, properties["PolicyDocument"], False
        elif resource["Type"] == "AWS::S3::BucketPolicy":
            yield logical_id, properties["PolicyDocument"], False
        elif resource["Type"] == "AWS::KMS::Key":
            yield logical_id, properties["KeyPolicy"], True


def _statements(document: dict):
    for statement in document["Statement"]:
        if isinstance(statement, dict) and "Fn::If" in statement:  # optional statements
            yield from (s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s)
        else:
            yield statement


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("path", template_paths(), ids=lambda p: p.name)
def test_iam_policies_are_scoped(path: Path):
    violations = []
    for where, document, is_key_policy in _policy_documents(load_template(path)):
        for statement in _statements(document):
            if statement["Effect"] != "Allow":
                continue
            actions = _as_list(statement["Action"])
            resources = _as_list(statement.get("Resource", []))
            label = f"{where}/{statement.get('Sid', '?')}"
            for action in actions:
                if action == "*" or action.endswith(":*"):
                    violations.append(f"{label}: wildcard action {action}")
            if "*" in resources and not is_key_policy:
                unscoped = set(actions) - UNSCOPABLE_ACTIONS
                if unscoped:
                    violations.append(f"{label}: {sorted(unscoped)} on Resource '*'")
    assert not violations, "\n".join(violations)
