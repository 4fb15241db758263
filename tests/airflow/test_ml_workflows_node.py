"""The sweep and canary examples (jobs/vision/lr-sweep.yaml, canary-release.yaml) on the real
node, run by real Airflow (`dag.test()`) with the real SeaweedFS store.

Each example is the repository's own spec and code, changed only where the node needs it: the
flavor and image are the node's (the examples name a team image that is not built here), and
the example's Python file goes into the pod as `python -c <its source>` (the canary's model
files are written beside it first), since the base image does not hold the team's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow.store import PREFIX
from tests.airflow.test_job_operator_node import _run
from tests.harness.objectstore import ObjectStore
from tests.harness.tools import REPO_ROOT
from tests.node.podrun import JOB_IMAGE

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore]
VISION = REPO_ROOT / "jobs" / "vision"


def _on_the_node(spec: dict[str, Any], name: str) -> dict[str, Any]:
    spec["dag"]["name"] = name
    spec["dag"]["defaults"].update(resource_flavor="node-256mb", docker_image=JOB_IMAGE)
    return spec


def _python(source: str, *args: str) -> list[str]:
    return ["python", "-c", source, *args]


def _write(jobs_dir: Path, spec: dict[str, Any]) -> None:
    (jobs_dir / "vision").mkdir(exist_ok=True)
    (jobs_dir / "vision" / f"{spec['dag']['name']}.yaml").write_text(yaml.safe_dump(spec))


def test_the_sweep_runs_one_pod_per_combination_and_pick_best_reads_them_all(
    store_backend: Any, jobs_dir: Path, object_store: ObjectStore
) -> None:
    spec = _on_the_node(yaml.safe_load((VISION / "lr-sweep.yaml").read_text()), "node-sweep")
    code = (VISION / "sweep.py").read_text()
    spec["tasks"]["sweep"]["train"]["execution_script"] = _python(code, "train")
    spec["tasks"]["select"]["pick_best"]["execution_script"] = _python(code, "pick")
    _write(jobs_dir, spec)
    run, tis = _run("node-sweep")
    assert run.state == "success"
    trains = [ti for ti in run.get_task_instances() if ti.task_id == "sweep.train"]
    assert sorted(ti.map_index for ti in trains) == list(range(6))
    assert {ti.state for ti in trains} == {"success"}
    root = f"{PREFIX}/node-sweep/{run.run_id}"
    keys = object_store.keys(f"{root}/")
    for index in range(6):
        assert f"{root}/train/{index}/1/metrics.json" in keys, keys
    # Every combination's metrics reached pick_best: its pick is the best of the six.
    accuracy = {}
    for index in range(6):
        key = f"{root}/train/{index}/1/metrics.json"
        body = object_store.client().get_object(Bucket=object_store.bucket, Key=key)["Body"]
        accuracy[index] = json.loads(body.read())["accuracy"]
    result = tis["select.pick_best"].xcom_pull(task_ids="select.pick_best", key="result")
    assert result["accuracy"] == max(accuracy.values())
    assert set(result) == {"lr", "depth", "accuracy"}
    assert f"{root}/pick_best/1/model.json" in keys


def _canary(jobs_dir: Path, name: str, candidate: str) -> None:
    spec = _on_the_node(yaml.safe_load((VISION / "canary-release.yaml").read_text()), name)
    spec["dag"]["params"]["candidate"]["default"] = candidate
    models = {p.name: p.read_text() for p in sorted((VISION / "canary").glob("*.json"))}
    # The example reads canary/<model>.json from its working folder: write them there first.
    prelude = (
        "import os, pathlib\n"
        "folder = pathlib.Path(os.environ['TMPDIR']) / 'canary'\n"
        "folder.mkdir(exist_ok=True)\n"
        f"for name, text in {models!r}.items():\n"
        "    (folder / name).write_text(text)\n"
        "os.chdir(os.environ['TMPDIR'])\n"
    )
    code = prelude + (VISION / "canary.py").read_text()
    for task in ("evaluate", "deploy", "alert"):
        spec["tasks"]["canary"][task]["execution_script"] = _python(code, task)
    _write(jobs_dir, spec)


def test_the_canary_deploys_a_better_candidate_and_does_not_alert(
    store_backend: Any, jobs_dir: Path, object_store: ObjectStore
) -> None:
    _canary(jobs_dir, "node-canary-good", "v2")
    run, tis = _run("node-canary-good")
    assert run.state == "success"
    assert tis["canary.deploy"].state == "success"
    assert tis["canary.alert"].state == "skipped"
    result = tis["canary.evaluate"].xcom_pull(task_ids="canary.evaluate", key="result")
    assert 0 < result["gain"] <= 0.1
    keys = object_store.keys(f"{PREFIX}/node-canary-good/{run.run_id}/")
    assert f"{PREFIX}/node-canary-good/{run.run_id}/deploy/1/deployed.txt" in keys


def test_the_canary_alerts_instead_of_deploying_a_suspiciously_better_candidate(
    store_backend: Any,
    jobs_dir: Path,
    object_store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _canary(jobs_dir, "node-canary-leak", "v3")
    run, tis = _run("node-canary-leak")
    out = capsys.readouterr().out
    assert tis["canary.deploy"].state == "skipped"
    assert tis["canary.alert"].state == "success", out[-3000:]
    result = tis["canary.evaluate"].xcom_pull(task_ids="canary.evaluate", key="result")
    assert result["gain"] > 0.1
    assert "ALERT: candidate v3 was not deployed" in out
    # No pod ran for the skipped deploy.
    pods = store_backend.list_namespaced_pod(
        "airflow-jobs-vision", label_selector="airflow-platform/job=deploy"
    ).items
    assert pods == []
    keys = object_store.keys(f"{PREFIX}/node-canary-leak/{run.run_id}/")
    assert not any("/deploy/" in key for key in keys)
