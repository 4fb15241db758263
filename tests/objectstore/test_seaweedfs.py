"""The tests' object store (tests/harness/objectstore.py): a real SeaweedFS S3 gateway.

These check what the other tiers rely on: bytes round-trip, other credentials are refused, and
the Airflow connection the chart's remote task logs use works with the amazon provider's own
S3 hook.
"""

from __future__ import annotations

import os

import pytest

from tests.harness.objectstore import ObjectStore

pytestmark = pytest.mark.objectstore


def test_bytes_round_trip_under_a_prefix(object_store: ObjectStore) -> None:
    client = object_store.client()
    body = os.urandom(3 * 2**20)
    client.put_object(Bucket=object_store.bucket, Key="roundtrip/a/blob.bin", Body=body)
    got = client.get_object(Bucket=object_store.bucket, Key="roundtrip/a/blob.bin")["Body"].read()
    assert got == body
    assert object_store.keys("roundtrip/") == ["roundtrip/a/blob.bin"]


def test_other_credentials_are_refused(object_store: ObjectStore) -> None:
    import boto3
    from botocore.exceptions import ClientError

    intruder = boto3.client(
        "s3",
        endpoint_url=object_store.endpoint,
        aws_access_key_id="someone-else",
        aws_secret_access_key="not-the-secret",
        region_name="us-east-1",
    )
    with pytest.raises(ClientError) as refused:
        intruder.list_objects_v2(Bucket=object_store.bucket)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_airflow_connection_works_with_the_amazon_providers_hook(
    object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection JSON the platform tests put in the chart's logs Secret, read by Airflow
    from AIRFLOW_CONN_<ID> as the chart's pods read it."""
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_PLATFORM_LOGS", object_store.airflow_connection())
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="airflow_platform_logs")
    hook.load_string("task log line\n", key="hook/log.txt", bucket_name=object_store.bucket)
    assert hook.read_key("hook/log.txt", bucket_name=object_store.bucket) == "task log line\n"
