"""The pod builder's artifact transfer containers, and reading their reports back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateTerminated,
    V1ContainerStatus,
    V1Pod,
    V1PodStatus,
)

from airflow_platform.artifacts import pod as transfer
from airflow_platform.config import PlatformConfig, load_config, parse_config
from airflow_platform.pods import INPUT_DIR, OUTPUT_DIR, TMP_DIR, RunContext, build_pod
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.models import JobSpec

pytestmark = pytest.mark.unit

STORE = {
    "endpoint": "https://s3.example.com/",
    "bucket": "team-artifacts",
    "prefix": "/airflow/runs/",
    "credentials_secret": "artifacts-store",
    "image": "registry.internal/airflow-platform/airflow:0.1.0",
}


def _config(**store: Any) -> PlatformConfig:
    data = load_config().model_dump(mode="json", exclude_none=True)
    data["artifacts"] = {**STORE, **store}
    return parse_config(yaml.safe_dump(data).encode(), "platform.yaml")


def _job(**fields: Any) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": "fit",
            "team": "vision",
            "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/vision/fit:1.0",
            "execution_time": "10 minutes",
            "execution_script": "python fit.py",
            **fields,
        }
    )


RUN = RunContext(
    dag_id="strain-normalization",
    task_id="model.fit_model",
    run_id="scheduled__2026-12-02T06:00:00+00:00",
    try_number=2,
    upstream_artifacts={"compile_data": "airflow/runs/strain-normalization/x/compile_data/1/"},
)


def _containers(pod: V1Pod) -> dict[str, Any]:
    return {c.name: c for c in [*pod.spec.init_containers, *pod.spec.containers]}


def test_a_run_fetches_its_upstream_outputs_and_keeps_its_own_under_the_layout() -> None:
    config = _config()
    pod = build_pod(_job(outputs=["model/**", "metrics.json"]), config, RUN)
    names = [c.name for c in pod.spec.init_containers]
    assert names == [transfer.FETCH_CONTAINER, transfer.KEEP_CONTAINER]
    fetch, keep = pod.spec.init_containers
    assert fetch.command[-3:] == [
        "--into",
        INPUT_DIR,
        "compile_data=airflow/runs/strain-normalization/x/compile_data/1/",
    ]
    assert keep.restart_policy == "Always"  # a native sidecar: it outlives the job
    args = keep.command
    prefix = "airflow/runs/strain-normalization/scheduled__2026-12-02T06:00:00+00:00/fit_model/2/"
    assert args[args.index("--to") + 1] == prefix
    assert args[args.index("--from") + 1] == OUTPUT_DIR
    assert args[args.index("--endpoint") + 1] == "https://s3.example.com"
    assert args[args.index("--cap") + 1] == "1Gi"
    assert args[args.index("--cap-bytes") + 1] == str(2**30)
    assert [args[i + 1] for i, a in enumerate(args) if a == "--output"] == [
        "model/**",
        "metrics.json",
    ]
    # The job starts only once the keeper can no longer miss its SIGTERM (podside).
    ready = args[args.index("--ready") + 1]
    assert ready.startswith(TMP_DIR + "/")
    assert keep.startup_probe._exec.command == ["test", "-e", ready]
    assert keep.startup_probe.period_seconds == 1
    # The job's grace period, plus the time the sidecar has to keep the outputs.
    assert pod.spec.termination_grace_period_seconds == 10 + 120


def test_only_the_transfer_containers_see_the_store_credentials() -> None:
    pod = build_pod(_job(), _config(), RUN)
    containers = _containers(pod)
    for name in (transfer.FETCH_CONTAINER, transfer.KEEP_CONTAINER):
        refs = {e.name: e.value_from.secret_key_ref for e in containers[name].env if e.value_from}
        assert {n: (r.name, r.key) for n, r in refs.items()} == {
            "AWS_ACCESS_KEY_ID": ("artifacts-store", "access_key_id"),
            "AWS_SECRET_ACCESS_KEY": ("artifacts-store", "secret_access_key"),
        }
        security = containers[name].security_context
        assert security.allow_privilege_escalation is False
        assert security.read_only_root_filesystem is True
        assert containers[name].image == STORE["image"]
    base = containers["base"]
    assert not [e for e in base.env or [] if e.name.startswith("AWS_") or e.value_from]
    mounts = {m.mount_path: m.read_only for m in base.volume_mounts}
    assert mounts[INPUT_DIR] is True


def test_no_upstream_outputs_no_fetch_and_no_run_no_transfer() -> None:
    config = _config()
    alone = RunContext(dag_id="d", task_id="t", run_id="r", try_number=1)
    names = [c.name for c in build_pod(_job(), config, alone).spec.init_containers]
    assert names == [transfer.KEEP_CONTAINER]
    assert build_pod(_job(), config).spec.init_containers is None  # `render`: no run
    assert build_pod(_job(), load_config(), RUN).spec.init_containers is None  # no store


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("bucket", "Team_Artifacts", "is not an S3 bucket name"),
        ("endpoint", "s3.example.com", "is not an endpoint URL"),
        ("prefix", "runs/../x", "is not a key prefix"),
        ("credentials_secret", "Not A Name", "Secret name"),
        ("image", None, "artifacts.image: name the image of the transfer containers"),
    ],
)
def test_a_bad_store_config_is_refused_with_the_field_and_a_fix(
    field: str, value: Any, expected: str
) -> None:
    with pytest.raises(SpecError) as refused:
        _config(**{field: value})
    assert expected in str(refused.value)


def _pod_with(name: str, message: str, exit_code: int = 0) -> V1Pod:
    terminated = V1ContainerStateTerminated(exit_code=exit_code, message=message)
    status = V1ContainerStatus(
        name=name,
        image="x",
        image_id="x",
        ready=False,
        restart_count=0,
        state=V1ContainerState(terminated=terminated),
    )
    return V1Pod(status=V1PodStatus(init_container_statuses=[status]))


def test_reports_are_read_from_the_termination_message() -> None:
    kept = {"kept": {"prefix": "p/", "files": 2, "bytes": 22}}
    pod = _pod_with(transfer.KEEP_CONTAINER, json.dumps(kept))
    assert transfer.report(pod, transfer.KEEP_CONTAINER) == kept
    assert transfer.problem(pod) is None
    too_big = _pod_with(transfer.KEEP_CONTAINER, json.dumps({"error": "over the cap"}), 1)
    assert transfer.problem(too_big) == "over the cap"
    killed = _pod_with(transfer.KEEP_CONTAINER, "uploading x.bin\n", 137)
    assert transfer.problem(killed) == "artifacts-keep ended without a report: uploading x.bin"
    assert transfer.report(V1Pod(status=V1PodStatus()), transfer.KEEP_CONTAINER) is None


def test_a_sweeps_combination_keeps_under_its_map_index_and_its_result_is_read_by_the_keeper() -> (
    None
):
    run = replace(
        RUN, map_index=3, matrix={"lr": "0.01"}, result_keys={"accuracy": "number"},
        upstream_artifacts={"prep/0": "p/0/1/", "prep/1": "p/1/1/"},
        upstream_sweeps={"prep": [{"index": 0, "values": {"n": 1}}, {"index": 1, "values": {"n": 2}}]},
    )  # fmt: skip
    pod = build_pod(_job(), _config(), run)
    fetch, keep = pod.spec.init_containers
    args = keep.command
    assert args[args.index("--to") + 1].endswith("/fit_model/3/2/")
    assert args[args.index("--result") + 1] == "accuracy=number"
    assert args[args.index("--result-cap") + 1] == "2048"
    assert fetch.command[-2:] == ["prep/0=p/0/1/", "prep/1=p/1/1/"]
    listed = fetch.command[fetch.command.index("--matrix") + 1]
    assert listed == 'prep=[{"index": 0, "values": {"n": 1}}, {"index": 1, "values": {"n": 2}}]'
    env = {e.name: e.value for e in pod.spec.containers[0].env}
    assert (env["LR"], env["AIRFLOW_PLATFORM_MAP_INDEX"]) == ("0.01", "3")


def test_the_fetch_writes_each_upstream_sweeps_values_beside_its_folders(tmp_path: Path) -> None:
    from airflow_platform.artifacts import podside

    listed = '[{"index": 0, "values": {"lr": 0.1}}]'
    code = podside.main(
        ["fetch", "--endpoint", "http://127.0.0.1:9", "--bucket", "b", "--into", str(tmp_path),
         "--termination-log", str(tmp_path / "log"), "--matrix", f"train={listed}"]
    )  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "train" / "matrix.json").read_text()) == json.loads(listed)


def test_the_keeper_is_ready_only_once_a_sigterm_can_no_longer_kill_it(tmp_path: Path) -> None:
    """A SIGTERM sent the moment the ready file exists is the keeper's cue to keep, not its
    death: here the store is unreachable, so the keeper reports that (its exit code 1), where
    a keeper killed by the signal would have exited -SIGTERM with no report."""
    ready = tmp_path / "ready"
    output = tmp_path / "output"
    output.mkdir()
    (output / "model.txt").write_text("weights\n")
    keeper = subprocess.Popen(
        [sys.executable, "-m", transfer.MODULE, "keep", "--endpoint", "http://127.0.0.1:9",
         "--bucket", "b", "--termination-log", str(tmp_path / "log"), "--from", str(output),
         "--to", "p/", "--task", "t", "--cap", "1Mi", "--cap-bytes", "1048576",
         "--ready", str(ready)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert keeper.poll() is None, "the keeper ended before it was ready"
        assert time.monotonic() < deadline, "the keeper never made its ready file"
        time.sleep(0.005)
    keeper.send_signal(signal.SIGTERM)
    stdout, _ = keeper.communicate(timeout=120)
    assert keeper.returncode == 1, stdout
    assert json.loads(stdout)["reason"] == "ArtifactsNotKept"
