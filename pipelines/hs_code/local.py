"""The HS-code pipeline's hooks for the generic local runner (the protocol: pipelines/local/__init__.py).

The runner finds this module next to pipelines/hs_code/pipeline.py; pipeline.py itself stays the DAG.
"""
from __future__ import annotations

from pipelines.hs_code.profiles import DEFAULT_LOCAL_PROFILE, LOCAL_PROFILES
from pipelines.hs_code.staging import stage_bundled_data as stage_default_data
from pipelines.hs_code.summary import summarize

__all__ = ["DEFAULT_LOCAL_PROFILE", "LOCAL_PROFILES", "stage_default_data", "summarize"]
