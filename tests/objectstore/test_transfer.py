"""The transfer containers' program (airflow_platform.artifacts.podside) against the real store.

It runs here as a process of its own, as it does in a pod, with the store's credentials in its
environment; the pod wiring itself is tested on the real node (tests/node/test_artifacts_node.py).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.objectstore import ObjectStore

pytestmark = pytest.mark.objectstore


def _podside(store: ObjectStore, *args: str, log: Path) -> subprocess.Popen[str]:
    command, *rest = args
    return subprocess.Popen(
        [
            sys.executable, "-m", "airflow_platform.artifacts.podside", command,
            "--endpoint", store.endpoint, "--bucket", store.bucket,
            "--termination-log", str(log), *rest,
        ],
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": store.access_key,
            "AWS_SECRET_ACCESS_KEY": store.secret_key,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _keep_args(
    source: Path, prefix: str, cap: str = "10Mi", cap_bytes: int = 10 * 2**20
) -> list[str]:
    return [
        "--from", str(source), "--to", prefix, "--task", "first",
        "--cap", cap, "--cap-bytes", str(cap_bytes),
    ]  # fmt: skip


def test_keep_waits_for_sigterm_then_keeps_the_folder_and_fetch_brings_it_back(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "model").mkdir(parents=True)
    (out / "model" / "weights.bin").write_bytes(os.urandom(20 * 2**20 // 4))
    (out / "x.txt").write_text("hello\n")
    prefix = f"transfer-{secrets.token_hex(3)}/dag/run/first/1/"
    log = tmp_path / "keep.log"
    keeper = _podside(object_store, "keep", *_keep_args(out, prefix), log=log)
    time.sleep(3)
    assert keeper.poll() is None, keeper.communicate()  # it waits for the job to end
    assert object_store.keys(prefix) == []
    keeper.send_signal(signal.SIGTERM)
    _, stderr = keeper.communicate(timeout=60)
    assert keeper.returncode == 0, stderr
    report = json.loads(log.read_text())
    assert report == {"kept": {"prefix": prefix, "files": 2, "bytes": 5 * 2**20 + 6}}
    assert sorted(object_store.keys(prefix)) == [prefix + "model/weights.bin", prefix + "x.txt"]

    into = tmp_path / "in"
    fetch_log = tmp_path / "fetch.log"
    fetcher = _podside(object_store, "fetch", "--into", str(into), f"first={prefix}", log=fetch_log)
    _, stderr = fetcher.communicate(timeout=60)
    assert fetcher.returncode == 0, stderr
    assert json.loads(fetch_log.read_text()) == {"fetched": {"first": 5 * 2**20 + 6}}
    assert (into / "first" / "x.txt").read_text() == "hello\n"
    assert (into / "first" / "model" / "weights.bin").read_bytes() == (
        out / "model" / "weights.bin"
    ).read_bytes()


def test_over_the_cap_nothing_is_kept_and_the_report_names_the_cap(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "big.bin").write_bytes(b"\0" * 3000)
    prefix = f"transfer-{secrets.token_hex(3)}/"
    log = tmp_path / "keep.log"
    keeper = _podside(object_store, "keep", *_keep_args(out, prefix, "2Ki", 2048), "--now", log=log)
    keeper.communicate(timeout=60)
    assert keeper.returncode == 1
    report = json.loads(log.read_text())
    assert report["reason"] == "ArtifactsTooLarge"
    assert "more than the platform's cap of 2Ki per task" in report["error"]
    assert object_store.keys(prefix) == []


def test_a_fetch_refused_by_the_store_names_the_prefix(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    log = tmp_path / "fetch.log"
    fetcher = subprocess.run(
        [
            sys.executable, "-m", "airflow_platform.artifacts.podside", "fetch",
            "--endpoint", object_store.endpoint, "--bucket", "no-such-bucket",
            "--termination-log", str(log), "--into", str(tmp_path / "in"), "first=runs/x/",
        ],
        env={**os.environ, "AWS_ACCESS_KEY_ID": object_store.access_key,
             "AWS_SECRET_ACCESS_KEY": object_store.secret_key},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert fetcher.returncode == 1
    error = json.loads(log.read_text())["error"]
    assert error.startswith(
        "upstream task first's outputs: cannot list s3://no-such-bucket/runs/x/: "
    )
    assert "NoSuchBucket" in error
    assert "Traceback" not in fetcher.stderr
