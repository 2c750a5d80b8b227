"""The definition's steps as a DAG: flattened (condition branches included) and ordered by dependency."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from pipelines.local.errors import DefinitionError, required
from pipelines.local.expressions import parse_path

SUPPORTED_TYPES = ("Processing", "Training", "Tuning", "Condition", "RegisterModel", "Model", "Fail")


@dataclass
class StepNode:
    name: str
    type: str
    spec: dict
    depends_on: set[str] = field(default_factory=set)
    # For steps inside a ConditionStep branch: (condition step name, True for IfSteps / False for ElseSteps).
    branch: tuple[str, bool] | None = None


def _references(fragment: Any) -> Iterator[str]:
    """Names of the steps a JSON fragment reads from ({"Get": "Steps.X..."})."""
    if isinstance(fragment, dict):
        get = fragment.get("Get")
        if isinstance(get, str) and get.startswith("Steps."):
            yield str(parse_path(get[len("Steps."):])[0])
        for value in fragment.values():
            yield from _references(value)
    elif isinstance(fragment, list):
        for item in fragment:
            yield from _references(item)


def build_dag(definition: dict) -> dict[str, StepNode]:
    """All steps by name, in definition order, with their dependencies (DependsOn + data references)."""
    nodes: dict[str, StepNode] = {}

    def add(spec: dict, branch: tuple[str, bool] | None) -> None:
        name = required(spec, "Name", "a step of the definition")
        kind = required(spec, "Type", f"step {name!r}")
        if name in nodes:
            raise DefinitionError(f"two steps are named {name!r}")
        if kind not in SUPPORTED_TYPES:
            raise DefinitionError(f"step {name!r} has type {kind!r}, which the local runner does not run "
                                  f"(supported: {', '.join(SUPPORTED_TYPES)})")
        node = StepNode(name, kind, spec, branch=branch)
        node.depends_on |= set(spec.get("DependsOn", []))
        node.depends_on |= set(_references(spec.get("Arguments", {})))
        if branch:
            node.depends_on.add(branch[0])
        nodes[name] = node
        if kind == "Condition":
            arguments = required(spec, "Arguments", f"condition step {name!r}")
            required(arguments, "Conditions", f"condition step {name!r} Arguments")
            for child in arguments.get("IfSteps", []):
                add(child, (name, True))
            for child in arguments.get("ElseSteps", []):
                add(child, (name, False))

    if not definition.get("Steps"):
        raise DefinitionError("the definition has no Steps")
    for spec in definition["Steps"]:
        add(spec, None)
    for node in nodes.values():
        # A condition step's own arguments include its branches; those are its children, not its inputs.
        if node.type == "Condition":
            node.depends_on = set(_references(node.spec["Arguments"].get("Conditions", []))) | set(
                node.spec.get("DependsOn", []))
        node.depends_on.discard(node.name)
        missing = node.depends_on - set(nodes)
        if missing:
            raise DefinitionError(f"step {node.name!r} depends on unknown step(s) {', '.join(sorted(missing))}")
    return nodes


def topological_order(nodes: dict[str, StepNode]) -> list[str]:
    """Dependency order, ties broken by definition order (stable, so runs read the same every time)."""
    order: list[str] = []
    done: set[str] = set()
    pending = list(nodes)
    while pending:
        ready = [name for name in pending if nodes[name].depends_on <= done]
        if not ready:
            raise DefinitionError(f"the steps {', '.join(pending)} depend on each other in a cycle")
        order.append(ready[0])
        done.add(ready[0])
        pending.remove(ready[0])
    return order
