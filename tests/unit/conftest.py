"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from airflow_platform.artifacts.layout import ARTIFACTS_DIR_ENV
from airflow_platform.config import CONFIG_ENV, PlatformConfig, load_config


@pytest.fixture(scope="session")
def default_config() -> PlatformConfig:
    """The packaged default platform config, whatever $AIRFLOW_PLATFORM_CONFIG says."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(CONFIG_ENV, raising=False)
        return load_config()


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local runs keep their artifacts in a temporary folder, not in this user's cache."""
    monkeypatch.setenv(ARTIFACTS_DIR_ENV, str(tmp_path_factory.mktemp("artifacts")))
