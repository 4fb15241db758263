"""Jobs delivery: DAGs and specs baked into the image by default, git-sync when enabled."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.render import (
    COMPONENTS,
    FULLNAME,
    VALUES_DIR,
    WORKERS_NAMESPACE,
    airflow_cfg,
    find,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

GIT_SYNC = VALUES_DIR / "git-sync.yaml"


def _docs(with_git: bool) -> list[dict]:
    return render_chart(values_files=[GIT_SYNC] if with_git else None)


def _worker(docs: list[dict]) -> dict:
    configmap = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    return yaml.safe_load(configmap["data"]["pod_template_file.yaml"])


def test_by_default_dags_and_jobs_come_from_the_image() -> None:
    """No git-sync container anywhere; Airflow reads the folders baked into the image."""
    docs = _docs(False)
    assert "git-sync" not in yaml.safe_dump_all(docs)
    assert airflow_cfg(docs)["core"]["dags_folder"] == "/opt/airflow/dags"
    env = {e["name"]: e["value"] for e in _worker(docs)["spec"]["containers"][0]["env"]}
    assert env["AIRFLOW_PLATFORM_JOBS_DIR"] == "/opt/airflow/jobs"


def test_dag_processor_runs_git_sync_as_a_native_sidecar() -> None:
    """git-sync keeps pulling beside the dag-processor, as an init container with
    restartPolicy Always so it starts first and never blocks the pod's shutdown."""
    deployment = find(_docs(True), "Deployment", f"{FULLNAME}-dag-processor")
    sidecar = search("spec.template.spec.initContainers[?name=='git-sync'] | [0]", deployment)
    assert sidecar["restartPolicy"] == "Always"
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert env["GITSYNC_REPO"] == "https://git.example.internal/data/jobs.git"
    assert env["GITSYNC_REF"] == "release"
    assert env["GITSYNC_PERIOD"] == "30s"
    assert env["GITSYNC_ONE_TIME"] == "false"
    assert sidecar["envFrom"] == [{"secretRef": {"name": "jobs-repo-token"}}]


def test_worker_pods_clone_once_before_the_task() -> None:
    """Worker pods would never finish with a long-running sidecar, so they clone once."""
    pod = _worker(_docs(True))
    init = search("spec.initContainers[?name=='git-sync-init'] | [0]", pod)
    assert "restartPolicy" not in init
    assert {e["name"]: e["value"] for e in init["env"]}["GITSYNC_ONE_TIME"] == "true"
    base = pod["spec"]["containers"][0]
    assert search("volumeMounts[?name=='git'] | [0].mountPath", base) == "/opt/airflow/git"


def test_airflow_reads_dags_and_jobs_from_the_checkout() -> None:
    """dags_folder and the jobs folder point into the synced repository's sub-paths."""
    docs = _docs(True)
    assert airflow_cfg(docs)["core"]["dags_folder"] == "/opt/airflow/git/repo/airflow/dags"
    for component in COMPONENTS:
        deployment = find(docs, "Deployment", f"{FULLNAME}-{component}")
        env = {
            e["name"]: e.get("value")
            for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["AIRFLOW_PLATFORM_JOBS_DIR"] == "/opt/airflow/git/repo/specs"


def test_only_the_dag_processor_carries_the_sidecar() -> None:
    """Scheduler, triggerer and api-server do not parse DAG files in Airflow 3."""
    docs = _docs(True)
    for component in ("api-server", "scheduler", "triggerer"):
        deployment = find(docs, "Deployment", f"{FULLNAME}-{component}")
        names = search("spec.template.spec.initContainers[].name", deployment)
        assert names == ["wait-for-migrations"]
