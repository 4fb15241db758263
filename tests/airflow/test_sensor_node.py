"""A `wait_for:` sensor against the real SeaweedFS store, run by real Airflow (`dag.test()`),
with its downstream job on the real node.

The sensor is the Amazon provider's deferrable `S3KeySensor` that the DAG factory builds: with
the key absent it defers, and `dag.test()` runs its trigger in-process (as the triggerer would,
polling the store with aiobotocore) until the key lands. The key is put by the test, through
the store's own S3 API, a few seconds after the run starts. The sensor's timeout is not tested
here: `dag.test()` runs a trigger inline without the triggerer's timeout check, so a key that
never lands would wait forever (the sensor's timeout, which its deferral carries, is checked in
tests/airflow/test_assets.py).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform.operators.sensor import DEFAULT_CONNECTION
from tests.airflow.test_job_operator_node import _run
from tests.harness.objectstore import ObjectStore
from tests.node.podrun import JOB_IMAGE

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore]
DELAY_S = 8


def _write_pipeline(jobs_dir: Path, name: str, timeout: str) -> None:
    spec = {
        "dag": {
            "name": name,
            "team": "vision",
            "defaults": {
                "resource_flavor": "node-256mb",
                "docker_image": JOB_IMAGE,
                "execution_time": "2 minutes",
            },
        },
        "tasks": {
            "ingest": {
                "wait_trips": {
                    "wait_for": {
                        "key": f"{name}/_SUCCESS",
                        "timeout": timeout,
                        "poke_interval": "5 seconds",
                    }
                },
                "load": {"execution_script": "echo trips landed", "depends_on": ["wait_trips"]},
            }
        },
    }
    (jobs_dir / "vision").mkdir(exist_ok=True)
    (jobs_dir / "vision" / f"{name}.yaml").write_text(yaml.safe_dump(spec))


@pytest.fixture
def sensor_connection(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sensors' Airflow connection (`artifacts.sensor_connection`) to the real store."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{DEFAULT_CONNECTION.upper()}", object_store.airflow_connection()
    )


def test_the_sensor_waits_for_its_key_then_the_downstream_job_runs(
    store_backend: Any,
    sensor_connection: None,
    jobs_dir: Path,
    object_store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write_pipeline(jobs_dir, "node-landed", "2 minutes")
    landed: list[datetime] = []

    def land() -> None:
        time.sleep(DELAY_S)
        object_store.client().put_object(
            Bucket=object_store.bucket, Key="teams/vision/node-landed/_SUCCESS", Body=b""
        )
        landed.append(datetime.now(UTC))

    putter = threading.Thread(target=land)
    putter.start()
    try:
        run, tis = _run("node-landed")
    finally:
        putter.join()
    out = capsys.readouterr().out
    assert run.state == "success", out[-3000:]
    sensor, load = tis["ingest.wait_trips"], tis["ingest.load"]
    assert (sensor.state, load.state) == ("success", "success")
    # It succeeded because the key landed, not before: it waited across the put.
    assert sensor.end_date >= landed[0]
    assert sensor.try_number == 1
    assert "trips landed" in out
    # It deferred: the provider's S3KeyTrigger polled the store (only a deferred sensor has one).
    assert "[airflow.providers.amazon.aws.triggers.s3.S3KeyTrigger]" in out
