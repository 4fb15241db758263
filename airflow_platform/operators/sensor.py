"""A pipeline's ``wait_for:`` task: the Amazon provider's ``S3KeySensor``, deferrable, against
the platform's object store.

While the object is missing the task is deferred: the triggerer polls the store (aiobotocore)
and no worker slot is held. The connection (``artifacts.sensor_connection``) and the place
watched come from the platform config and the team (``airflow_platform.assets``); the spec
says only the key or prefix, the timeout and the interval.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor

from airflow_platform.assets import sensor_location
from airflow_platform.config import PlatformConfig
from airflow_platform.spec.assets import WaitFor

DEFAULT_CONNECTION = "airflow_platform_artifacts"
"""The sensors' connection when the config has no object store (``artifacts:``)."""


def sensor_operator(wait: WaitFor, team: str, config: PlatformConfig, **kwargs: Any) -> S3KeySensor:
    """The deferrable sensor of ``wait``, for a pipeline of ``team``; ``kwargs`` are the task's
    scheduling arguments (task id, group, outlets, trigger rule)."""
    bucket, key = sensor_location(wait, team, config)
    connection = config.artifacts.sensor_connection if config.artifacts else DEFAULT_CONNECTION
    return S3KeySensor(
        bucket_name=bucket,
        # A prefix is any key under it: the provider's wildcard match (fnmatch) on `<prefix>*`.
        bucket_key=key + "*" if wait.prefix is not None else key,
        wildcard_match=wait.prefix is not None,
        aws_conn_id=connection,
        deferrable=True,
        timeout=wait.timeout.total_seconds(),
        poke_interval=wait.poke_interval.total_seconds(),
        **kwargs,
    )
