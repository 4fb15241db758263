"""Asset schedules, outlets and sensors as the DAG factory builds them, in real Airflow 3.3."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

JOBS = Path(__file__).resolve().parents[2] / "jobs"


def test_an_asset_scheduled_pipeline_gets_an_asset_timetable_on_the_producers_outlet() -> None:
    from airflow.sdk import Asset, AssetAll
    from airflow.sdk.definitions.timetables.assets import AssetTriggeredTimetable

    from airflow_platform.dagfactory import load_dags

    result = load_dags(JOBS, only_dag_id="trips-report")
    producer = load_dags(JOBS, only_dag_id="clean-trips").dags["clean-trips"]
    timetable = result.dags["trips-report"].timetable
    asset = Asset(name="analytics/trips-cleaned", uri="airflow-platform://analytics/trips-cleaned")
    assert isinstance(timetable, AssetTriggeredTimetable)
    assert timetable.asset_condition == AssetAll(asset)
    assert producer.get_task("clean.clean_trips").outlets == [asset]


def test_a_wait_for_task_is_a_deferrable_s3_key_sensor_in_the_teams_area(tmp_path: Path) -> None:
    from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

    from airflow_platform.dagfactory import load_dags

    team = tmp_path / "jobs" / "analytics"
    team.mkdir(parents=True)
    (team / "landed.yaml").write_text(
        "dag: {defaults: {resource_flavor: cpu-2gb, execution_time: 1m,\n"
        "  docker_image: registry.internal/analytics/x:1.0}}\n"
        "tasks:\n  ingest:\n"
        "    wait: {wait_for: {prefix: trips/, timeout: 1 hour, poke_interval: 30s}}\n"
        "    load: {execution_script: 'true', depends_on: [wait]}\n"
    )
    result = load_dags(tmp_path / "jobs")
    assert result.errors == {}
    sensor = result.dags["landed"].get_task("ingest.wait")
    assert isinstance(sensor, S3KeySensor)
    assert (sensor.deferrable, sensor.bucket_key, sensor.wildcard_match, sensor.timeout) == (
        True, "teams/analytics/trips/*", True, 3600.0,
    )  # fmt: skip
