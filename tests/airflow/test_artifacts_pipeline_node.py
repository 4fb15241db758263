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

from tests.airflow.store import PREFIX
from tests.airflow.test_job_operator_node import _run
from tests.harness.objectstore import ObjectStore
from tests.node.podrun import JOB_IMAGE

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore]


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
