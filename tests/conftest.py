"""Fixtures every tier may use."""

from __future__ import annotations

import pytest

from airflow_platform.config import CONFIG_ENV

pytest_plugins = ["tests.harness.fixtures"]


@pytest.fixture
def dag_test_runs_as_every_team(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The packaged platform config, with Airflow's `dag.test()` caller (user `dag_test`)
    allowed to run ad-hoc jobs as every team; $AIRFLOW_PLATFORM_CONFIG points at it."""
    import yaml

    from airflow_platform.config import load_config

    monkeypatch.delenv(CONFIG_ENV, raising=False)
    data = load_config().model_dump(mode="json", exclude_none=True)
    for team in data["teams"].values():
        team["users"] = ["dag_test"]
    path = tmp_path_factory.mktemp("adhoc-config") / "platform.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    return str(path)
