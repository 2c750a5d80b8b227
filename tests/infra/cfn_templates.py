"""Read the CloudFormation templates in infra/ and resolve their intrinsic functions.

The event-pattern tests take each rule's pattern FROM the template, so the patterns must be turned into
plain JSON first: Ref, Fn::Sub, Fn::ImportValue (fed by the exporting stacks' own Outputs), Fn::GetAtt,
Fn::Join, Fn::If. Enough CloudFormation for these templates, no more.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pipelines.settings import REPO_ROOT

INFRA_DIR = REPO_ROOT / "infra"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"

# The stacks in creation order; later stacks import what earlier ones export.
STACK_ORDER = ["model-resources.yml", "model-build.yml", "retraining-rules.yml", "serving.yml", "deploy-on-approval.yml",
               "monitoring.yml", "approved-pointer.yml"]
# Parameters without defaults, as a user would pass them.
REQUIRED_PARAMETERS = {"model-build.yml": {"RepositoryId": "my-org/hs-mlops"},
                       "serving.yml": {"RouterCodeKey": "serving/router/router-0123456789abcdef.zip"},
                       "approved-pointer.yml": {
                           "PointerCodeKey": "registry/approved-pointer/approved-pointer-0123456789abcdef.zip"}}

# Properties that name a resource, i.e. what Ref returns for these types in these templates.
NAME_PROPERTIES = ("BucketName", "RoleName", "Name", "AlarmName", "AliasName", "LogGroupName",
                   "ModelPackageGroupName", "ConnectionName", "FunctionName", "ManagedPolicyName")


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns short-form tags (!Ref, !Sub, ...) into their long form."""


def _construct(tag: str):
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in ("Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "And", "Or", "ImportValue", "Select",
             "Split", "Base64", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def template_paths() -> list[Path]:
    return sorted(INFRA_DIR.glob("*.yml"))


def load_template(name: str | Path) -> dict:
    path = Path(name) if Path(name).is_absolute() else INFRA_DIR / name
    return yaml.load(path.read_text(), Loader=_CfnLoader)


class Resolver:
    """Resolves one template's intrinsics given parameter values and the exports of earlier stacks."""

    def __init__(self, template: dict, parameters: dict[str, str] | None = None,
                 exports: dict[str, str] | None = None, stack_name: str = "test-stack"):
        self.template = template
        self.exports = exports or {}
        self.values: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.values.update(parameters or {})
        missing = [name for name, value in self.values.items() if value is None]
        if missing:
            raise ValueError(f"parameters without a value: {missing}")
        self.values.update({
            "AWS::AccountId": ACCOUNT_ID, "AWS::Region": REGION, "AWS::Partition": PARTITION,
            "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com",
        })

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name == "AWS::NoValue":
            return _NO_VALUE
        resource = self.template["Resources"][name]
        properties = resource.get("Properties", {})
        for prop in NAME_PROPERTIES:
            if prop in properties:
                return self.resolve(properties[prop])
        return f"{name}-physical-id"

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.template["Resources"][logical_id]
        kind = resource["Type"].split("::")[1].lower()
        name = self.ref(logical_id)
        if resource["Type"] == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:{PARTITION}:s3:::{name}"
        if resource["Type"] == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role/{name}"
        if resource["Type"] == "AWS::Lambda::Function" and attribute == "Arn":
            return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        if resource["Type"] == "AWS::Lambda::Url" and attribute == "FunctionUrl":
            return f"https://{logical_id.lower()}.lambda-url.{REGION}.on.aws/"
        return f"arn:{PARTITION}:{kind}:{REGION}:{ACCOUNT_ID}:{resource['Type'].split('::')[2].lower()}/{name}"

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def replace(match: re.Match) -> str:
            key = match.group(1)
            if key in variables:
                return str(variables[key])
            if "." in key and key.split(".")[0] in self.template.get("Resources", {}):
                return str(self.get_att(*key.split(".", 1)))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(i) for i in node) if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    text, variables = arg
                    return self.sub(text, {k: self.resolve(v) for k, v in variables.items()})
                return self.sub(arg, {})
            if key == "Fn::ImportValue":
                export = self.resolve(arg)
                if export not in self.exports:
                    raise KeyError(f"import {export!r}: no earlier stack exports it")
                return self.exports[export]
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(i) for i in self.resolve(items))
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return left == right
            if key == "Fn::Not":
                return not self.resolve(arg[0])
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def outputs(self) -> dict[str, Any]:
        return {name: self.resolve(spec["Value"]) for name, spec in self.template.get("Outputs", {}).items()}

    def export_map(self) -> dict[str, Any]:
        return {self.resolve(spec["Export"]["Name"]): self.resolve(spec["Value"])
                for spec in self.template.get("Outputs", {}).values() if "Export" in spec}

    def resource(self, logical_id: str) -> dict:
        """A resource with every intrinsic resolved."""
        return self.resolve(self.template["Resources"][logical_id])


_NO_VALUE = object()


def resolved_stacks(parameters: dict[str, dict[str, str]] | None = None) -> dict[str, Resolver]:
    """Every template resolved in creation order, each importing the earlier stacks' exports."""
    parameters = parameters or {}
    exports: dict[str, Any] = {}
    stacks = {}
    for name in STACK_ORDER:
        values = {**REQUIRED_PARAMETERS.get(name, {}), **parameters.get(name, {})}
        resolver = Resolver(load_template(name), values, dict(exports), stack_name=name.removesuffix(".yml"))
        exports.update(resolver.export_map())
        stacks[name] = resolver
    return stacks
