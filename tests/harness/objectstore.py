"""A real S3-compatible object store on loopback: SeaweedFS (Apache-2.0), built by
`make tools` from the Go module proxy at the version pinned in scripts/versions.env.

One `weed server` process runs master, volume, filer and S3 gateway, every listener on
127.0.0.1 and every file (data, logs, sockets) under the store's own folder. Credentials are
made per store; nothing else on the machine can read its bucket without them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.controlplane import free_port
from tests.harness.tools import tool_path

READY_TIMEOUT = 90


@dataclass(frozen=True)
class ObjectStore:
    """A started store: its S3 endpoint, the one identity allowed in, and a bucket."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    log: Path

    def client(self, endpoint: str | None = None) -> Any:
        """A boto3 S3 client for this store (at `endpoint` when the caller reaches it there)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` in the bucket."""
        pages = self.client().get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def airflow_connection(self, endpoint: str | None = None) -> str:
        """The store as an Airflow `aws` connection in JSON (what a Secret's `connection` key
        holds for the chart's logs.remote.connectionSecretName)."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": self.access_key,
                "password": self.secret_key,
                "extra": {
                    "endpoint_url": endpoint or self.endpoint,
                    "region_name": "us-east-1",
                    "addressing_style": "path",
                },
            }
        )


def _ports(*names: str) -> dict[str, int]:
    chosen: dict[str, int] = {}
    while len(chosen) < len(names):
        port = free_port()
        if port not in chosen.values():
            chosen[names[len(chosen)]] = port
    return chosen


@contextmanager
def seaweedfs(workdir: Path, bucket: str = "airflow-platform") -> Iterator[ObjectStore]:
    """`weed server -filer -s3` on loopback ports of its own, with one identity and one
    bucket; stopped (and its data left in `workdir`) on exit."""
    weed = tool_path("weed")
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("data", "logs", "sockets", "tmp"):
        (workdir / sub).mkdir(exist_ok=True)
    access_key, secret_key = f"test{secrets.token_hex(4)}", secrets.token_hex(20)
    identities = {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    config = workdir / "s3.json"
    config.write_text(json.dumps(identities))
    config.chmod(0o600)
    port = _ports("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc",
                  "s3", "s3_grpc")  # fmt: skip
    sockets = workdir / "sockets"
    cmd = [
        str(weed), f"-logdir={workdir / 'logs'}", "server",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={workdir / 'data'}",
        f"-master.port={port['master']}", f"-master.port.grpc={port['master_grpc']}",
        "-master.volumeSizeLimitMB=512", "-master.telemetry=false",
        f"-volume.port={port['volume']}", f"-volume.port.grpc={port['volume_grpc']}",
        "-volume.max=20", "-volume.preStopSeconds=0",
        "-filer", f"-filer.port={port['filer']}", f"-filer.port.grpc={port['filer_grpc']}",
        f"-filer.localSocket={sockets / 'filer.sock'}",
        "-s3", f"-s3.port={port['s3']}", f"-s3.port.grpc={port['s3_grpc']}",
        f"-s3.config={config}", f"-s3.localSocket={sockets / 's3.sock'}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    log = workdir / "weed.log"
    # Its gRPC sockets go to the temp folder: keep them in the store's own.
    env = {**os.environ, "TMPDIR": str(workdir / "tmp")}
    with log.open("wb") as sink:
        process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    store = ObjectStore(f"http://127.0.0.1:{port['s3']}", access_key, secret_key, bucket, log)
    try:
        _create_bucket(store, process)
        yield store
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create_bucket(store: ObjectStore, process: subprocess.Popen[bytes]) -> None:
    """Create the bucket once the gateway answers (it needs master, volume and filer up)."""
    deadline = time.monotonic() + READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited ({process.returncode}):\n{_tail(store.log)}")
        try:
            store.client().create_bucket(Bucket=store.bucket)
            return
        except Exception as err:  # not up yet: connection refused, 5xx while the filer starts
            last = err
            time.sleep(0.5)
    raise RuntimeError(
        f"SeaweedFS S3 at {store.endpoint} not ready in {READY_TIMEOUT} s ({last}):\n"
        f"{_tail(store.log)}"
    )


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""
