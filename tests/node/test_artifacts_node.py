"""Artifacts on the real node: job pods hand real bytes to each other through a real store.

The pods are the platform's own (``build_pod`` with an ``artifacts:`` store in the config);
their transfer containers run the platform image built from images/airflow; the store is a
real SeaweedFS on loopback (tests/harness/objectstore.py), which pods reach through one port
relayed into the node's network namespace. What a job writes is read back from the store
with boto3, and from the downstream job's own log.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import yaml

from airflow_platform.artifacts import pod as transfer
from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.pods import RunContext, build_pod
from tests.harness.fixtures import NODE_CONFIG
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore
from tests.node import podrun

pytestmark = [pytest.mark.node, pytest.mark.objectstore]
CREDENTIALS = "artifacts-store"


def _config(node: RealNode, store: ObjectStore, **policy: str) -> PlatformConfig:
    document = yaml.safe_load(NODE_CONFIG.read_text())
    document["policy"].update(policy)
    document["artifacts"] = {
        "endpoint": f"http://{node.expose(int(store.endpoint.rsplit(':', 1)[1]))}",
        "bucket": store.bucket,
        "prefix": f"runs-{secrets.token_hex(3)}",
        "credentials_secret": CREDENTIALS,
        "image": "registry.internal/airflow-platform/airflow:0.1.0",
        "upload_grace": "1 minute",
    }
    return parse_config(yaml.safe_dump(document).encode(), "artifacts-node.yaml")


@pytest.fixture
def store_config(
    real_node: RealNode, object_store: ObjectStore, core_v1: Any, restricted_namespace: str
) -> PlatformConfig:
    """The real-node config with the real store, its credentials Secret in the namespace."""
    real_node.import_images(["airflow"])
    _secret(core_v1, restricted_namespace, object_store.access_key, object_store.secret_key)
    return _config(real_node, object_store)


def _secret(core_v1: Any, namespace: str, key_id: str, secret: str) -> None:
    core_v1.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": CREDENTIALS},
            "stringData": {"access_key_id": key_id, "secret_access_key": secret},
        },
    )


def _run(
    core_v1: Any, config: PlatformConfig, namespace: str, *args: Any, **kw: Any
) -> podrun.PodRun:
    return _watch(core_v1, _pod(config, namespace, *args, **kw))


def _watch(core_v1: Any, pod: Any) -> podrun.PodRun:
    core_v1.create_namespaced_pod(pod.metadata.namespace, pod)
    return podrun.watch(core_v1, pod.metadata.name, pod.metadata.namespace, timeout=240)


def _pod(
    config: PlatformConfig,
    namespace: str,
    task: str,
    script: str,
    upstream: dict[str, str] | None = None,
    try_number: int = 1,
    **fields: Any,
) -> Any:
    """The platform's pod of task ``stage.<task>`` of run ``handoff``."""
    job = podrun.job(task, script, **fields)
    context = RunContext(
        dag_id="handoff",
        task_id=f"stage.{task}",
        run_id="manual__2026-12-02T06:00:00+00:00",
        try_number=try_number,
        namespace=namespace,
        upstream_artifacts=upstream,
    )
    return build_pod(job, config, context)


def test_what_a_task_writes_is_in_the_store_and_its_downstream_task_reads_it(
    core_v1: Any, restricted_namespace: str, store_config: PlatformConfig, object_store: ObjectStore
) -> None:
    """The first task's files land under <prefix>/<dag>/<run id>/<task>/<try>/; the second
    reads them, read-only, under $AIRFLOW_PLATFORM_INPUT_DIR/<first>/, and keeps nothing."""
    first = _run(
        core_v1,
        store_config,
        restricted_namespace,
        "first",
        'echo "hello from first" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt" && '
        'mkdir "$AIRFLOW_PLATFORM_OUTPUT_DIR/sub" && '
        'echo deep > "$AIRFLOW_PLATFORM_OUTPUT_DIR/sub/y.txt"',
    )
    assert first.phase == "Succeeded", first.pod.status
    assert store_config.artifacts is not None
    prefix = f"{store_config.artifacts.prefix}/handoff/manual__2026-12-02T06:00:00+00:00/first/1/"
    report = transfer.report(first.pod, transfer.KEEP_CONTAINER)
    assert report == {"kept": {"prefix": prefix, "files": 2, "bytes": 22}}, podrun.log(
        core_v1, first, transfer.KEEP_CONTAINER
    )
    assert sorted(object_store.keys(prefix)) == [prefix + "sub/y.txt", prefix + "x.txt"]
    body = object_store.client().get_object(Bucket=object_store.bucket, Key=prefix + "x.txt")
    assert body["Body"].read() == b"hello from first\n"

    second = _run(
        core_v1,
        store_config,
        restricted_namespace,
        "second",
        'cat "$AIRFLOW_PLATFORM_INPUT_DIR/first/x.txt" "$AIRFLOW_PLATFORM_INPUT_DIR/first/sub/y.txt"'
        ' && echo "date $AIRFLOW_PLATFORM_DS" && '
        '(touch "$AIRFLOW_PLATFORM_INPUT_DIR/first/z" 2>/dev/null && echo writable || '
        "echo inputs are read-only)",
        upstream={"first": prefix},
    )
    log = podrun.log(core_v1, second)
    assert second.phase == "Succeeded", (second.pod.status, log)
    assert "hello from first\ndeep\n" in log
    assert "inputs are read-only" in log
    assert transfer.report(second.pod, transfer.FETCH_CONTAINER) == {"fetched": {"first": 22}}
    kept = transfer.report(second.pod, transfer.KEEP_CONTAINER)
    assert kept is not None
    assert kept["kept"]["files"] == 0
    assert transfer.problem(second.pod) is None


def test_a_task_over_the_cap_keeps_nothing_and_the_message_names_the_cap(
    real_node: RealNode,
    object_store: ObjectStore,
    core_v1: Any,
    restricted_namespace: str,
    store_config: PlatformConfig,
) -> None:
    config = _config(real_node, object_store, max_task_artifacts="1Mi")
    result = _run(
        core_v1,
        config,
        restricted_namespace,
        "big",
        'head -c 2097152 /dev/zero > "$AIRFLOW_PLATFORM_OUTPUT_DIR/big.bin"',
    )
    problem = transfer.problem(result.pod)
    assert problem is not None
    assert "cap of 1Mi per task" in problem
    assert "policy.max_task_artifacts" in problem
    assert config.artifacts is not None
    assert object_store.keys(f"{config.artifacts.prefix}/") == []


def test_outputs_globs_keep_only_what_they_match_and_a_failed_job_keeps_its_files(
    core_v1: Any, restricted_namespace: str, store_config: PlatformConfig, object_store: ObjectStore
) -> None:
    """A job that fails keeps what it wrote (for debugging), filtered by `outputs:`."""
    result = _run(
        core_v1,
        store_config,
        restricted_namespace,
        "crashes",
        'echo partial > "$AIRFLOW_PLATFORM_OUTPUT_DIR/model.txt" && '
        'echo noise > "$AIRFLOW_PLATFORM_OUTPUT_DIR/scratch.log" && exit 3',
        outputs=["*.txt"],
    )
    assert result.phase == "Failed"
    assert result.terminated().exit_code == 3
    assert store_config.artifacts is not None
    prefix = f"{store_config.artifacts.prefix}/handoff/manual__2026-12-02T06:00:00+00:00/crashes/1/"
    assert object_store.keys(prefix) == [prefix + "model.txt"]


def test_a_job_that_ends_at_once_has_its_outputs_kept_and_its_pod_ends_with_it(
    core_v1: Any, restricted_namespace: str, store_config: PlatformConfig, object_store: ObjectStore
) -> None:
    """A job that fails the moment it starts (a bad flag, an OOM on load) must not outrun the
    keeper: were its SIGTERM sent before the keeper (its container's PID 1) blocks it, the
    signal would be lost, the keeper would wait out the grace period and be killed, and the
    operator would get no report. The startup probe holds the job back until the keeper is
    listening; the keeper then reports, and the pod ends seconds after the job.

    How long the keeper takes to start is the node's load; a busy node is stood in for by
    starting the keeper 5 s late (its command behind a `sleep`), which a quiet node would
    otherwise race past."""
    pod = _pod(
        store_config, restricted_namespace, "sudden",
        'echo "partial" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt"; exit 3',
    )  # fmt: skip
    keeper = next(c for c in pod.spec.init_containers if c.name == transfer.KEEP_CONTAINER)
    keeper.command = ["sh", "-c", 'sleep 5; exec "$@"', "keeper", *keeper.command]
    result = _watch(core_v1, pod)
    ended = result.terminated(transfer.KEEP_CONTAINER)
    assert ended is not None, result.pod.status
    assert ended.exit_code == 0, (ended, podrun.log(core_v1, result, transfer.KEEP_CONTAINER))
    report = transfer.report(result.pod, transfer.KEEP_CONTAINER)
    assert report is not None
    assert report["kept"]["files"] == 1, report
    job_ended = result.terminated()
    assert (result.phase, job_ended.exit_code) == ("Failed", 3)
    lag = (ended.finished_at - job_ended.finished_at).total_seconds()
    assert lag < 20, f"the keeper ended {lag:.0f} s after the job (the grace is 70 s)"


def test_a_download_that_fails_names_the_object_and_why(
    real_node: RealNode, object_store: ObjectStore, core_v1: Any, restricted_namespace: str
) -> None:
    """Wrong credentials: the init container fails, the job never starts, and the one-line
    problem says which prefix could not be read and what the store answered."""
    real_node.import_images(["airflow"])
    _secret(core_v1, restricted_namespace, object_store.access_key, "not-the-secret")
    config = _config(real_node, object_store)
    result = _run(
        core_v1,
        config,
        restricted_namespace,
        "reader",
        "echo never",
        upstream={"first": "runs/handoff/r/first/1/"},
    )
    assert result.phase == "Failed"
    problem = transfer.problem(result.pod)
    assert problem is not None
    assert problem.startswith(
        f"upstream task first's outputs: cannot list s3://{object_store.bucket}/runs/handoff/r/"
        "first/1/: "
    ), problem
    assert result.terminated() is None  # the job's container never ran


def test_a_retry_keeps_its_own_files_and_the_downstream_task_sees_only_that_try(
    core_v1: Any, restricted_namespace: str, store_config: PlatformConfig, object_store: ObjectStore
) -> None:
    """Try 1 fails after writing a file; try 2 writes another and succeeds. Each try has its
    own folder in the store, and the downstream task, given try 2's (as the operator gives it
    the prefix its upstream's succeeded try pushed), sees nothing of try 1."""
    script = (
        'echo "try $AIRFLOW_PLATFORM_TRY_NUMBER" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/'
        'try-$AIRFLOW_PLATFORM_TRY_NUMBER.txt"; [ "$AIRFLOW_PLATFORM_TRY_NUMBER" != 1 ]'
    )
    tries = [
        _run(core_v1, store_config, restricted_namespace, "flaky", script, try_number=n)
        for n in (1, 2)
    ]
    assert [t.phase for t in tries] == ["Failed", "Succeeded"]
    reports = [transfer.report(t.pod, transfer.KEEP_CONTAINER) for t in tries]
    prefixes = [r["kept"]["prefix"] for r in reports if r]
    assert [p.rsplit("/", 2)[-2] for p in prefixes] == ["1", "2"]
    assert object_store.keys(prefixes[0]) == [prefixes[0] + "try-1.txt"]
    assert object_store.keys(prefixes[1]) == [prefixes[1] + "try-2.txt"]
    reader = _run(
        core_v1,
        store_config,
        restricted_namespace,
        "reader",
        'ls "$AIRFLOW_PLATFORM_INPUT_DIR/flaky"',
        upstream={"flaky": prefixes[1]},
    )
    assert reader.phase == "Succeeded"
    assert podrun.log(core_v1, reader).split() == ["try-2.txt"]
