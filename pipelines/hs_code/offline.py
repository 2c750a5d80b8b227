"""The HS-code pipeline built with no AWS account (the generic offline build: pipelines/local/offline.py)."""
from __future__ import annotations

from pipelines.hs_code import PIPELINE_MODULE
from pipelines.local.offline import OfflineBuild
from pipelines.local.offline import build_offline as build_module_offline


def build_offline(**kwargs) -> OfflineBuild:
    """The HS-code definition and every object its build uploaded (arguments: pipelines.local.offline.build_offline)."""
    return build_module_offline(PIPELINE_MODULE, **kwargs)


def build_definition_offline(**kwargs) -> str:
    """The HS-code definition JSON, built with no credentials."""
    return build_offline(**kwargs).definition
