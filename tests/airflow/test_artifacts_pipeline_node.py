"""A pipeline whose tasks hand files to each other, run by real Airflow on the real node.

`dag.test()` runs the factory's DAG; each task's JobOperator starts its pod on the real kubelet;
the pods move the bytes through the real SeaweedFS store (tests/harness/objectstore.py), with
the platform image's transfer containers. The second task learns where the first kept its
outputs from the first's XCom, as it does on an installed platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.rest import ApiException

from tests.airflow.test_job_operator_node import _run
from tests.harness.fixtures import NODE_CONFIG
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore
from tests.node.podrun import JOB_IMAGE

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore]
CREDENTIALS = "artifacts-store"
PREFIX = "pipeline-runs"


def use_the_store(
    node_backend: Any,
    real_node: RealNode,
    object_store: ObjectStore,
    config_path: Path,
    *,
    team: str = "vision",
    flavors: dict[str, Any] | None = None,
) -> Path:
    """Writes the real-node config with the real store as `artifacts:` (and any extra flavors)
    to ``config_path``, and puts the store's credentials Secret in the team's jobs namespace."""
    real_node.import_images(["airflow"])
    document = yaml.safe_load(NODE_CONFIG.read_text())
    document["flavors"].update(flavors or {})
    port = int(object_store.endpoint.rsplit(":", 1)[1])
    document["artifacts"] = {
        "endpoint": f"http://{real_node.expose(port)}",
        "bucket": object_store.bucket,
        "prefix": PREFIX,
        "credentials_secret": CREDENTIALS,
        "image": "registry.internal/airflow-platform/airflow:0.1.0",
    }
    config_path.write_text(yaml.safe_dump(document))
    secret = {
        "metadata": {"name": CREDENTIALS},
        "stringData": {
            "access_key_id": object_store.access_key,
            "secret_access_key": object_store.secret_key,
        },
    }
    put_secret(node_backend, f"airflow-jobs-{team}", secret)
    return config_path


def put_secret(core_v1: Any, namespace: str, secret: dict[str, Any]) -> None:
    try:
        core_v1.create_namespaced_secret(namespace, secret)
    except ApiException as exc:
        if exc.status != 409:
            raise
        core_v1.replace_namespaced_secret(secret["metadata"]["name"], namespace, secret)


@pytest.fixture
def store_backend(
    node_backend: Any,
    real_node: RealNode,
    object_store: ObjectStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The real-node config with the real store as `artifacts:`, and its credentials Secret in
    vision's jobs namespace."""
    config = use_the_store(node_backend, real_node, object_store, tmp_path / "platform.yaml")
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config))
    return node_backend


def _pipeline(jobs_dir: Path, name: str, first: str, second: str) -> None:
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
            "stage": {
                "first": {"execution_script": first},
                "second": {"execution_script": second, "depends_on": ["first"]},
            }
        },
    }
    (jobs_dir / "vision").mkdir(exist_ok=True)
    (jobs_dir / "vision" / f"{name}.yaml").write_text(yaml.safe_dump(spec))


def test_the_second_task_reads_what_the_first_wrote_and_the_bytes_are_in_the_store(
    store_backend: Any,
    jobs_dir: Path,
    object_store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _pipeline(
        jobs_dir,
        "node-handoff",
        'echo "made on $AIRFLOW_PLATFORM_DS" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt"',
        'cat "$AIRFLOW_PLATFORM_INPUT_DIR/first/x.txt"; echo "read on $AIRFLOW_PLATFORM_DS"',
    )
    run, tis = _run("node-handoff")
    out = capsys.readouterr().out
    assert run.state == "success", out[-4000:]
    ds = run.logical_date.strftime("%Y-%m-%d")
    # Only the second task prints: the first's line reached it through the store.
    assert f"made on {ds}" in out
    assert f"read on {ds}" in out
    key = f"{PREFIX}/node-handoff/{run.run_id}/first/1/x.txt"
    assert object_store.keys(f"{PREFIX}/node-handoff/{run.run_id}/") == [key]
    body = object_store.client().get_object(Bucket=object_store.bucket, Key=key)["Body"].read()
    assert body == f"made on {ds}\n".encode()
    assert tis["stage.first"].xcom_pull(task_ids="stage.first", key="artifacts") == {
        "prefix": f"{PREFIX}/node-handoff/{run.run_id}/first/1/",
        "files": 1,
        "bytes": len(body),
    }


def test_an_upstream_that_failed_leaves_its_downstream_not_run(
    store_backend: Any, jobs_dir: Path, object_store: ObjectStore
) -> None:
    _pipeline(
        jobs_dir,
        "node-broken",
        'echo half > "$AIRFLOW_PLATFORM_OUTPUT_DIR/partial.txt"; exit 2',
        "echo should-not-run",
    )
    run, tis = _run("node-broken")
    assert run.state == "failed"
    assert tis["stage.first"].state == "failed"
    assert tis["stage.second"].state == "upstream_failed"
    # The failed try kept what it wrote, for debugging; nothing was handed on.
    assert object_store.keys(f"{PREFIX}/node-broken/{run.run_id}/") == [
        f"{PREFIX}/node-broken/{run.run_id}/first/1/partial.txt"
    ]
    assert tis["stage.first"].xcom_pull(task_ids="stage.first", key="artifacts") is None
    pods = store_backend.list_namespaced_pod(
        "airflow-jobs-vision", label_selector="airflow-platform/job=second"
    ).items
    assert pods == []
