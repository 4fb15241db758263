"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from airflow_platform.config import CONFIG_ENV, PlatformConfig, load_config


@pytest.fixture(scope="session")
def default_config() -> PlatformConfig:
    """The packaged default platform config, whatever $AIRFLOW_PLATFORM_CONFIG says."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(CONFIG_ENV, raising=False)
        return load_config()
