"""Assets and sensors in `run --local`: the asset-triggered examples (jobs/analytics/clean-trips.yaml
→ trips-report.yaml) run by hand, and a `wait_for:` sensor polls the local store for its object
(`<artifacts root>/objects/<bucket>/<key>`), going on when it is there and failing at its timeout.

The CLI runs in-process (typer's `CliRunner`, the real command and the packaged config); the
jobs are real local processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from airflow_platform.assets import local_sensor_path
from airflow_platform.cli import app
from airflow_platform.config import load_config
from airflow_platform.spec.assets import WaitFor

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


def _run(spec: Path, artifacts: Path) -> Result:
    return CliRunner().invoke(
        app,
        ["run", "--local", str(spec), "--artifacts", str(artifacts), "--run-id", "r1"],
        env={"COLUMNS": "200"},
    )


def test_the_producer_says_the_asset_it_updates_and_the_consumer_runs_by_hand(
    tmp_path: Path,
) -> None:
    producer = _run(REPO / "jobs/analytics/clean-trips.yaml", tmp_path)
    assert producer.exit_code == 0, producer.output
    assert "◆ asset updated: analytics/trips-cleaned (an asset event on Airflow)" in producer.output
    consumer = _run(REPO / "jobs/analytics/trips-report.yaml", tmp_path)
    assert consumer.exit_code == 0, consumer.output
    assert "scheduled on assets (all of analytics/trips-cleaned): run now, by hand" in (
        consumer.output
    )
    assert "fresh trips cleaned; report regenerated" in consumer.output


def _landed_pipeline(folder: Path, timeout: str) -> Path:
    spec = {
        "dag": {
            "defaults": {
                "resource_flavor": "cpu-2gb",
                "docker_image": "registry.internal/analytics/x:1.0",
                "execution_time": "1 minute",
            }
        },
        "tasks": {
            "ingest": {
                "wait_trips": {
                    "wait_for": {"key": "trips/_SUCCESS", "timeout": timeout, "poke_interval": "5s"}
                },
                "load": {"execution_script": "echo loading trips", "depends_on": ["wait_trips"]},
            }
        },
    }
    path = folder / "jobs" / "analytics" / "landed.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(spec))
    return path


def _object(artifacts: Path) -> Path:
    wait = WaitFor.model_validate({"key": "trips/_SUCCESS", "timeout": "1m", "poke_interval": "5s"})
    return local_sensor_path(wait, "analytics", load_config(), artifacts)


def test_a_local_sensor_finds_its_object_and_the_pipeline_goes_on(tmp_path: Path) -> None:
    spec = _landed_pipeline(tmp_path, "30 seconds")
    artifacts = tmp_path / "artifacts"
    landed = _object(artifacts)
    assert landed == artifacts / "objects/artifacts/teams/analytics/trips/_SUCCESS"
    landed.parent.mkdir(parents=True)
    landed.write_text("")
    result = _run(spec, artifacts)
    assert result.exit_code == 0, result.output
    assert f"waiting for {landed}" in result.output
    assert "loading trips" in result.output


def test_a_local_sensor_fails_at_its_timeout_and_nothing_after_it_runs(tmp_path: Path) -> None:
    spec = _landed_pipeline(tmp_path, "5 seconds")
    artifacts = tmp_path / "artifacts"
    result = _run(spec, artifacts)
    assert result.exit_code == 1, result.output
    assert f"{_object(artifacts)} did not appear within 5 s" in result.output
    assert "raise the sensor's `timeout`" in result.output
    assert "loading trips" not in result.output
