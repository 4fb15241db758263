"""Asset schedules, outlets and sensors as the DAG factory builds them, in real Airflow 3.3."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

JOBS = Path(__file__).resolve().parents[2] / "jobs"
ENTRY = JOBS.parent / "dags" / "platform_jobs.py"


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


def test_a_producer_run_emits_its_asset_event_and_queues_the_consumer(
    airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The producer (clean-trips, run by `dag.test()` on the local backend) succeeds; Airflow
    records an asset event for its outlet and queues the pipeline scheduled on that asset
    (trips-report): an `AssetDagRunQueue` row, what the scheduler turns into the consumer's run
    once every asset of its condition has one. Both DAGs are synced to the database first, as
    the dag-processor would, and the consumer unpaused, as a platform team would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    bag = DagBag(dag_folder=str(ENTRY))
    assert {"clean-trips", "trips-report"} <= set(bag.dags), bag.import_errors
    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(bag, "dags-folder", None)
    with create_session() as session:  # new DAGs are paused, and Airflow queues no paused DAG
        consumer = session.scalar(select(DagModel).where(DagModel.dag_id == "trips-report"))
        assert consumer is not None
        consumer.is_paused = False
    run = bag.dags["clean-trips"].test()
    assert run.state == "success"
    with create_session() as session:
        asset = session.scalar(
            select(AssetModel).where(AssetModel.name == "analytics/trips-cleaned")
        )
        assert asset is not None
        events = session.scalars(
            select(AssetEvent).where(
                AssetEvent.asset_id == asset.id, AssetEvent.source_run_id == run.run_id
            )
        ).all()
        assert [e.source_task_id for e in events] == ["clean.clean_trips"]
        queued = session.scalars(
            select(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == "trips-report")
        ).all()
        assert [q.asset_id for q in queued] == [asset.id]
