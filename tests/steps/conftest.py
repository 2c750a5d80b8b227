"""Shared fixtures for the step tests: the bundled HS 2022 list (small enough to load in every test)."""
from __future__ import annotations

import pytest

from pipelines.settings import DATA_DIR, HS2022_NOMENCLATURE
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes


@pytest.fixture(scope="session")
def hs6_codes() -> dict[str, str]:
    return load_hs6_codes(HS2022_NOMENCLATURE)


@pytest.fixture(scope="session")
def code_normalizer(hs6_codes) -> HSCodeNormalizer:
    return HSCodeNormalizer(hs6_codes)


@pytest.fixture(scope="session")
def reference_dir():
    return DATA_DIR
