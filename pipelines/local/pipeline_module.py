"""A pipeline module loaded by name, with the optional hooks it offers (the protocol: see pipelines/local/__init__.py).

Hooks are looked up on the module itself, then on its sibling module `local` (for
`pipelines.<name>.pipeline` that is `pipelines.<name>.local`), so the DAG module stays the
DAG and nothing else while its local conveniences live next to it.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from steps.hsml.cli_errors import UsageError

HOOKS_MODULE = "local"
# The get_pipeline() arguments that name things (and the CLI flag for each); a caller that gives none
# gets get_pipeline()'s defaults.
NAMING_ARGUMENTS = {"pipeline_name": "--pipeline-name", "model_package_group_name": "--model-package-group",
                    "base_job_prefix": "--base-job-prefix"}


@dataclass(frozen=True)
class Profile:
    """A named way to run a pipeline locally: parameter overrides and get_pipeline() build options."""

    name: str
    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    build_options: dict[str, Any] = field(default_factory=dict)


class PipelineModule:
    def __init__(self, name: str, module: ModuleType, hook_modules: list[ModuleType]):
        self.name = name
        self.module = module
        self._hook_modules = hook_modules

    @classmethod
    def load(cls, name: str) -> "PipelineModule":
        module = _import(name)
        if not callable(getattr(module, "get_pipeline", None)):
            raise UsageError(f"{name} has no get_pipeline(region, role, default_bucket, ...): "
                             "a pipeline module must define one (see pipelines/local/__init__.py)")
        hooks = [module]
        package, _, _ = name.rpartition(".")
        sibling = f"{package}.{HOOKS_MODULE}" if package else HOOKS_MODULE
        if sibling != name and package and importlib.util.find_spec(sibling) is not None:
            hooks.append(importlib.import_module(sibling))
        return cls(name, module, hooks)

    # ---- building
    @property
    def get_pipeline(self) -> Callable:
        return self.module.get_pipeline

    @property
    def description(self) -> str:
        """The module docstring's first line (what `upsert` sends as the pipeline's description)."""
        return (inspect.getdoc(self.module) or self.name).splitlines()[0]

    def naming(self, **given: str | None) -> dict[str, str]:
        """The naming arguments (NAMING_ARGUMENTS): those given, else get_pipeline()'s defaults."""
        parameters = inspect.signature(self.get_pipeline).parameters
        names = {}
        for argument, flag in NAMING_ARGUMENTS.items():
            value = given.get(argument)
            if value is None:
                default = parameters[argument].default if argument in parameters else inspect.Parameter.empty
                if default is inspect.Parameter.empty:
                    raise UsageError(f"get_pipeline() of {self.name} has no default {argument}: pass {flag}")
                value = default
            names[argument] = value
        return names

    def split_build_options(self, options: dict) -> tuple[dict, dict]:
        """(options get_pipeline() accepts, options it does not): a profile may name options a module lacks."""
        parameters = inspect.signature(self.get_pipeline).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            return dict(options), {}
        return ({k: v for k, v in options.items() if k in parameters},
                {k: v for k, v in options.items() if k not in parameters})

    # ---- hooks
    def hook(self, name: str) -> Any:
        for module in self._hook_modules:
            if hasattr(module, name):
                return getattr(module, name)
        return None

    def profiles(self) -> dict[str, Profile]:
        """LOCAL_PROFILES, or what local_profiles() returns; {} for a module without profiles."""
        make = self.hook("local_profiles")
        profiles = make() if callable(make) else self.hook("LOCAL_PROFILES") or {}
        for key, profile in profiles.items():
            if not isinstance(profile, Profile) or profile.name != key:
                raise UsageError(f"{self.name}: profile {key!r} must be a pipelines.local.pipeline_module.Profile "
                                 f"named {key!r}")
        return dict(profiles)

    def profile(self, name: str | None) -> Profile | None:
        """The named profile, the module's default one (DEFAULT_LOCAL_PROFILE, else the first), or None."""
        profiles = self.profiles()
        if name is None:
            if not profiles:
                return None
            name = self.hook("DEFAULT_LOCAL_PROFILE") or next(iter(profiles))
        if name not in profiles:
            offered = f"choose one of {', '.join(profiles)}" if profiles else f"{self.name} defines no profiles"
            raise UsageError(f"unknown profile {name!r}; {offered}")
        return profiles[name]

    def stage_default_data(self, s3_client, bucket: str, base_job_prefix: str) -> list[str]:
        """Upload what the default parameters point at (the module's hook); returns the URIs written."""
        stage = self.hook("stage_default_data")
        return list(stage(s3_client, bucket, base_job_prefix) or []) if callable(stage) else []

    def summarize(self, execution, *, verbose: bool = False) -> list[str]:
        """The module's own lines for a run summary (its best model, metrics, next commands...); [] without the hook."""
        summarize = self.hook("summarize")
        return list(summarize(execution, verbose=verbose)) if callable(summarize) else []


def _import(name: str) -> ModuleType:
    # As `python -m` would: a module in the current directory can be named too (after installed ones).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            raise UsageError(f"--module-name {name}: no such module; give a dotted module path that defines "
                             "get_pipeline(), such as pipelines.<name>.pipeline") from None
        raise  # the module exists but imports something missing: its own traceback says what
