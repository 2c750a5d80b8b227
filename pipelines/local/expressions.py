"""Resolving the definition's expressions: {"Get": ...}, {"Std:Join": ...}, {"Std:JsonGet": ...}.

References take three forms, as SageMaker writes them:
  {"Get": "Parameters.Threshold"}
  {"Get": "Execution.PipelineExecutionId"}
  {"Get": "Steps.Prepare.ProcessingOutputConfig.Outputs['prepared'].S3Output.S3Uri"}
Step properties are the Describe* response of the step's job (what the job modules return), so the same paths work.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from pipelines.local.errors import DefinitionError, required


class ResolutionError(DefinitionError):
    """A reference the runner cannot resolve (unknown parameter, step not run yet, bad path)."""


_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def parse_path(path: str) -> list[str | int]:
    """'A.B[0].C['x']' -> ['A', 'B', 0, 'C', 'x'] (strings for names and keys, ints for indexes)."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match or match.end() == position:
            raise ResolutionError(f"cannot parse property path {path!r} at {path[position:]!r}")
        name, index, key = match.groups()
        tokens.append(int(index) if index is not None else (name if name is not None else key))
        position = match.end()
    return tokens


def walk(document: Any, tokens: list[str | int], where: str) -> Any:
    """Follow tokens through dicts and lists; a string key on a list picks the element named by it."""
    node = document
    for token in tokens:
        if isinstance(node, list) and isinstance(token, int):
            if token >= len(node):
                raise ResolutionError(f"{where}: index [{token}] out of range (only {len(node)} entries)")
            node = node[token]
        elif isinstance(node, list):
            named = [item for item in node if isinstance(item, dict)
                     and any(k.endswith("Name") and v == token for k, v in item.items())]
            if not named:
                raise ResolutionError(f"{where}: no entry named {token!r}")
            node = named[0]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            available = ", ".join(sorted(node)) if isinstance(node, dict) else type(node).__name__
            raise ResolutionError(f"{where}: no {token!r} (available: {available})")
    return node


def json_path_get(document: Any, path: str, where: str) -> Any:
    """The JsonGet path syntax (JMESPath subset SageMaker documents): a.b[0].c."""
    return walk(document, parse_path(path), where)


def render(value: Any) -> str:
    """How SageMaker turns a primitive into text inside Std:Join and argument lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


class Resolver:
    """Resolves expressions against parameters, execution variables and finished steps' properties."""

    def __init__(
        self,
        parameters: Mapping[str, Any],
        execution_variables: Mapping[str, Any],
        step_properties: Callable[[str], Mapping[str, Any]],
        property_file: Callable[[str, str], Any],
        read_json_uri: Callable[[str], Any] | None = None,
    ):
        self.parameters = parameters
        self.execution_variables = execution_variables
        self.step_properties = step_properties  # step name -> its properties (raises if not run)
        self.property_file = property_file  # (step name, property file name) -> parsed JSON
        self.read_json_uri = read_json_uri  # s3 URI -> parsed JSON (JsonGet with an S3Uri)

    def resolve(self, value: Any) -> Any:
        """Resolve every expression inside `value` (a JSON fragment), leaving literals as they are."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, body), = value.items()
            if key == "Get":
                return self.get(body)
            if key == "Std:Join":
                return self.join(body)
            if key == "Std:JsonGet":
                return self.json_get(body)
        return {key: self.resolve(item) for key, item in value.items()}

    def get(self, reference: str) -> Any:
        root, _, rest = reference.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                raise ResolutionError(f"unknown parameter {rest!r} in {reference!r}")
            return self.parameters[rest]
        if root == "Execution":
            if rest not in self.execution_variables:
                raise ResolutionError(f"unknown execution variable {rest!r}")
            return self.execution_variables[rest]
        if root == "Steps":
            tokens = parse_path(rest)
            step_name, path = tokens[0], tokens[1:]
            return walk(self.step_properties(str(step_name)), path, reference)
        raise ResolutionError(f"cannot resolve {{'Get': {reference!r}}}: expected Parameters., Execution. or Steps.")

    def join(self, body: Mapping[str, Any]) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("Values", []), list):
            raise ResolutionError(f"Std:Join needs {{'On': ..., 'Values': [...]}}, not {body!r:.120}")
        values = [render(self.resolve(item)) for item in body.get("Values", [])]
        return str(body.get("On", "")).join(values)

    def json_get(self, body: Mapping[str, Any]) -> Any:
        path = required(body, "Path", "Std:JsonGet")
        if "PropertyFile" in body:
            reference = body["PropertyFile"]
            if isinstance(reference, dict) and "Get" in reference:
                tokens = parse_path(reference["Get"])
                if len(tokens) != 4 or tokens[0] != "Steps" or tokens[2] != "PropertyFiles":
                    raise ResolutionError(f"unexpected PropertyFile reference {reference['Get']!r}")
                step_name, file_name = str(tokens[1]), str(tokens[3])
            else:
                raise ResolutionError(f"unexpected PropertyFile {reference!r} in Std:JsonGet")
            document = self.property_file(step_name, file_name)
            where = f"JsonGet {path!r} in {step_name}.{file_name}"
        elif "S3Uri" in body:
            uri = self.resolve(body["S3Uri"])
            if self.read_json_uri is None:
                raise ResolutionError(f"cannot read {uri}: no store to read JSON from")
            document = self.read_json_uri(uri)
            where = f"JsonGet {path!r} in {uri}"
        else:
            raise ResolutionError(f"Std:JsonGet needs a PropertyFile or an S3Uri: {json.dumps(body)}")
        return json_path_get(document, path, where)
