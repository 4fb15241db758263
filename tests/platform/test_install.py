"""The chart installed on the real node, used the way a platform team and a scientist would.

Every pod of the release really runs: the platform image (Airflow 3.3.2 and this package), the
embedded PostgreSQL and statsd-exporter images built from images/, the KubernetesExecutor's
worker pods and the job pods they launch, on the real kubelet; Services through kube-proxy and
CoreDNS; the api-server reached by `kubectl port-forward`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from airflow_platform.pods import CONTAINER_NAME
from tests.chart.render import CHART_DIR
from tests.harness.kube import wait_for
from tests.harness.objectstore import ObjectStore
from tests.platform.release import (
    FULLNAME,
    LOGS_PREFIX,
    RELEASE,
    Release,
    release_objects,
    write_job,
)

pytestmark = pytest.mark.platform
ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "airflow-platform"
NODE_CONFIG = ROOT / "tests" / "data" / "node" / "platform.yaml"


def test_every_component_runs_on_the_real_node(platform_release: Release, core_v1: Any) -> None:
    """api-server, scheduler, dag-processor, triggerer, PostgreSQL and statsd-exporter are
    Ready, each on the real node."""
    pods = core_v1.list_namespaced_pod(platform_release.namespace).items
    running = {
        p.metadata.labels.get("app.kubernetes.io/component"): p.spec.node_name
        for p in pods
        if p.status.phase == "Running"
    }
    print(f"\nrelease Ready {platform_release.ready_seconds:.0f} s after helm install started")
    for component in ("api-server", "scheduler", "dag-processor", "triggerer", "postgresql"):
        assert running.get(component) == platform_release.node.name, running


def test_api_server_refuses_a_call_without_credentials(platform_release: Release) -> None:
    url = platform_release.api_url()
    response = httpx.get(f"{url}/api/v2/dags", timeout=30)
    assert response.status_code == 401


def test_submit_wait_runs_the_job_on_the_cluster_and_streams_its_log(
    platform_release: Release, core_v1: Any, object_store: ObjectStore
) -> None:
    """`airflow-platform submit --wait` against the installed api-server: the scheduler's
    KubernetesExecutor starts a worker pod, its JobOperator starts the job pod in the team's
    namespace, the log streams back and the command exits 0; both pods are gone afterwards, and
    the task's log is in the object store and still readable through the REST API."""
    url = platform_release.api_url()
    env = {
        **os.environ,
        "AIRFLOW_PLATFORM_API_URL": url,
        "AIRFLOW_PLATFORM_API_USERNAME": "admin",
        "AIRFLOW_PLATFORM_API_PASSWORD": platform_release.ui_password(),
    }
    result = subprocess.run(
        [str(CLI), "submit", "--config", str(NODE_CONFIG), "--wait",
         str(ROOT / "tests" / "data" / "node" / "jobs" / "vision" / "hello.yaml")],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "hello from" in result.stdout
    # The pod's artifact sidecar ran in the release's jobs namespace, admitted by its policy.
    assert "of $AIRFLOW_PLATFORM_OUTPUT_DIR in the artifact store" in result.stdout

    def leftovers() -> list[str]:
        return [
            p.metadata.name
            for ns in (platform_release.jobs_namespace, platform_release.team_namespace("vision"))
            for p in core_v1.list_namespaced_pod(ns).items
            if p.metadata.deletion_timestamp is None
        ]

    # The worker marks the run done before its pod exits; the executor deletes the pod when it
    # sees it finish, moments later (CI saw it still there when the command returned).
    try:
        wait_for(lambda: not leftovers(), timeout=60, what="the worker and job pods to go")
    except TimeoutError:
        pytest.fail(f"pods left 60 s after the run: {leftovers()}")
    run_id = result.stdout.split(": run ", 1)[1].split()[0]
    stored = object_store.keys(f"{LOGS_PREFIX}/")
    assert any(run_id in key for key in stored), stored
    from airflow_platform.client import AirflowClient

    client = AirflowClient(url, username="admin", password=platform_release.ui_password())
    task = client.task_instances(run_id)[0]
    lines = client.log_lines(run_id, task["task_id"], task["try_number"])
    assert any("hello from" in line for line in lines), lines[-20:]
    # The triggerer watched the deferred pod; a trigger that cannot reach the API errors at
    # once and the worker re-defers, then follows the pod itself.
    unwatched = [line for line in lines if "Re-deferring" in line or "error while waiting" in line]
    assert not unwatched, unwatched


def test_a_workers_task_outcome_reaches_the_statsd_exporter(platform_release: Release) -> None:
    """The worker pod's task runner sends `ti.finish` over StatsD to the release's exporter
    (its NetworkPolicy admits worker pods), mapped to `airflow_task_finished_total` with its
    tags as labels; the job of the test above finished there. The JobOperator in the same
    worker sent the platform's series through the same client: the try's start, its last run
    state, and the task's team and flavor that the recording rule joins to Airflow's series."""
    url = platform_release.forward(f"{FULLNAME}-statsd-exporter", 9102)

    def finished_jobs() -> list[str]:
        text = httpx.get(f"{url}/metrics", timeout=30).text
        return [
            line
            for line in text.splitlines()
            if line.startswith("airflow_task_finished_total{")
            and 'dag_id="platform_job_runner"' in line
            and 'state="success"' in line
        ]

    try:
        wait_for(finished_jobs, timeout=60, what="a finished job in the statsd-exporter")
    except TimeoutError:
        text = httpx.get(f"{url}/metrics", timeout=30).text
        pytest.fail(
            "no airflow_task_finished_total of platform_job_runner; airflow_ series: "
            + ", ".join(sorted({line.split("{")[0] for line in text.splitlines()
                                if line.startswith("airflow_")}))
        )  # fmt: skip
    text = httpx.get(f"{url}/metrics", timeout=30).text
    platform = [line for line in text.splitlines() if line.startswith("airflow_platform_")]
    runner = [line for line in platform if 'dag="platform_job_runner"' in line]
    assert any(line.startswith("airflow_platform_jobs_started_total{") for line in runner), platform
    assert any(
        line.startswith("airflow_platform_job_last_run_failed{") and line.endswith(" 0")
        for line in runner
    ), platform
    started = [
        line
        for line in platform
        if line.startswith("airflow_platform_task_started_timestamp_seconds{")
        and 'dag_id="platform_job_runner"' in line
    ]
    assert started, platform
    assert 'team="vision"' in started[0], started


def _cli_env(
    release: Release, url: str, user: str = "admin", password: str | None = None
) -> dict[str, str]:
    """The CLI's environment for calls as ``user``, whose password is the simple auth
    manager's generated one unless given."""
    return {
        **os.environ,
        "AIRFLOW_PLATFORM_API_URL": url,
        "AIRFLOW_PLATFORM_API_USERNAME": user,
        "AIRFLOW_PLATFORM_API_PASSWORD": password or release.ui_password(user),
    }


def _submit(
    release: Release, spec: Path, *args: str, user: str = "admin", password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`airflow-platform submit` as ``user`` (see ``_cli_env``)."""
    env = _cli_env(release, release.api_url(), user, password)
    return subprocess.run(
        [str(CLI), "submit", "--config", str(NODE_CONFIG), *args, str(spec)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )  # fmt: skip


def test_a_baked_in_pipeline_runs_on_its_schedule_and_hands_its_artifact_on(
    platform_release: Release,
) -> None:
    """jobs/nlp/word-report.yaml, baked into the platform image: once unpaused, the scheduler
    starts its daily run itself (a `scheduled` run, nobody triggers it); `count`'s counts.txt
    reaches `report` through the object store and the run succeeds, and the report's line is in
    the task log read through the API."""
    from airflow_platform.client import AirflowClient

    url = platform_release.api_url()
    password = platform_release.ui_password()
    token = httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": password}, timeout=30
    ).json()["access_token"]
    api = httpx.Client(
        base_url=f"{url}/api/v2/dags",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    wait_for(
        lambda: api.get("/word-report").status_code == 200, timeout=300, what="DAG word-report"
    )
    api.patch("/word-report", json={"is_paused": False}).raise_for_status()

    def scheduled_run() -> dict[str, Any] | None:
        runs = api.get("/word-report/dagRuns").json()["dag_runs"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        return done[0] if done else None

    client = AirflowClient(url, username="admin", password=password)
    try:
        run = wait_for(scheduled_run, timeout=900, what="word-report's scheduled run", interval=5)
    except TimeoutError:
        runs = api.get("/word-report/dagRuns").json()["dag_runs"]
        said = {
            r["dag_run_id"]: [
                (ti["task_id"], ti.get("state"))
                for ti in client.task_instances(r["dag_run_id"], dag_id="word-report")
            ]
            for r in runs
        }
        dag = api.get("/word-report").json()
        pytest.fail(
            f"no finished run of word-report in 900 s; paused={dag.get('is_paused')} "
            f"next_dagrun={dag.get('next_dagrun_logical_date')}; runs: {said}"
        )
    # As `submit --wait` reads it: a finished run's logs are whole only once the worker that
    # resumed each deferred task has stored its part, which it does after the run is final.
    report = [
        text for kind, text in client.follow(run["dag_run_id"], "word-report") if kind == "log"
    ]
    assert run["run_type"] == "scheduled", run
    assert run["state"] == "success", report[-40:]
    assert any("most common word: the (3 times)" in line for line in report), report[-40:]


def test_a_user_of_one_team_cannot_submit_as_another(
    platform_release: Release, tmp_path: Path
) -> None:
    """nlp-scientist is mapped to team nlp only (teams.nlp.users): a job of vision's folder is
    refused before any pod exists, with a message naming the team."""
    spec = write_job(tmp_path, "not-mine", "echo should-not-run")
    result = _submit(platform_release, spec, "--wait", user="nlp-scientist")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Airflow user 'nlp-scientist' may not run jobs as team 'vision'" in result.stdout
    assert "should-not-run" not in result.stdout


def test_failing_job_shows_its_one_line_reason_in_the_task_log(
    platform_release: Release, tmp_path: Path
) -> None:
    """A job over its flavor's memory fails; the log `submit --wait` streams from the installed
    api-server names the reason and a bigger flavor, and the command exits 1."""
    spec = write_job(
        tmp_path,
        "hungry",
        "python -c 'x = bytearray(400 * 2**20); x[::4096] = b\"x\" * len(x[::4096])'",
    )
    result = _submit(platform_release, spec, "--wait")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "job hungry ran out of memory (OOMKilled): flavor node-256mb gives 256Mi" in result.stdout
    )


def test_a_failed_jobs_pod_is_kept_when_its_spec_asks(
    platform_release: Release, core_v1: Any, tmp_path: Path
) -> None:
    """`keep_failed_pod: true` on a submitted job: the run fails, and its pod stays in the
    team's namespace, terminated with the job's exit code, for someone to look at."""
    spec = write_job(tmp_path, "kept", "echo about to fail; exit 3", keep_failed_pod=True)
    result = _submit(platform_release, spec, "--wait")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "job kept exited with code 3" in result.stdout, result.stdout[-3000:]
    namespace = platform_release.team_namespace("vision")
    kept = core_v1.list_namespaced_pod(namespace, label_selector="airflow-platform/job=kept").items
    try:
        assert [p.status.phase for p in kept] == ["Failed"], [p.metadata.name for p in kept]
        codes = {
            c.name: c.state.terminated.exit_code if c.state.terminated else None
            for c in kept[0].status.container_statuses
        }
        assert codes[CONTAINER_NAME] == 3, codes
    finally:
        for pod in kept:
            core_v1.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)


MEMORY_LIMIT = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes"


def test_upgrade_with_a_changed_flavor_rolls_and_keeps_generated_secrets(
    platform_release: Release, apps_v1: Any, tmp_path: Path
) -> None:
    """`helm upgrade` with a bigger node-256mb: the components roll, the next job's cgroup gets
    the new memory, and the generated secrets are the same bytes."""
    names = ("fernet-key", "jwt-secret", "api-secret-key")
    before = {n: platform_release.secret(f"{FULLNAME}-{n}", n) for n in names}
    generations = _generations(apps_v1, platform_release)
    platform_release.helm(
        "upgrade", RELEASE, str(CHART_DIR), "--namespace", platform_release.namespace,
        "--reuse-values", "--set", "platform.flavors.node-256mb.memory=320Mi", "--timeout", "900s",
    )  # fmt: skip
    # Every component, the api-server included: a port-forward to an old, terminating
    # api-server pod is cut mid-request.
    wait_for(
        lambda: all(_rolled(apps_v1, platform_release, n, g) for n, g in generations.items()),
        timeout=900, what="every component rolled and Ready", interval=2,
    )  # fmt: skip
    platform_release.close_forwards()  # the api-server pod was replaced
    result = _submit(platform_release, write_job(tmp_path, "limits", MEMORY_LIMIT), "--wait")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert str(320 * 2**20) in result.stdout
    assert {n: platform_release.secret(f"{FULLNAME}-{n}", n) for n in names} == before


def _rolled(apps_v1: Any, release: Release, name: str, generation: int) -> bool:
    deployment = apps_v1.read_namespaced_deployment(name, release.namespace)
    status = deployment.status
    return (
        deployment.metadata.generation > generation
        and (status.updated_replicas or 0) == deployment.spec.replicas
        and (status.replicas or 0) == deployment.spec.replicas
        and (status.ready_replicas or 0) == deployment.spec.replicas
        and not status.unavailable_replicas
    )


def _wait_for_log_line(
    client: Any, run_id: str, wanted: Callable[[str], bool], what: str, timeout: float
) -> None:
    """Waits until a line of run_job's first try's log (read through the REST API) is
    ``wanted``; fails the test with the log's last lines otherwise."""

    def found() -> bool:
        return any(wanted(line) for line in client.log_lines(run_id, "run_job", 1))

    try:
        wait_for(found, timeout=timeout, what=what, interval=2)
    except TimeoutError:
        tail = "\n".join(client.log_lines(run_id, "run_job", 1)[-20:])
        pytest.fail(f"no {what}; the task log ends:\n{tail}")


def test_running_task_survives_a_scheduler_restart_and_runs_once(
    platform_release: Release, core_v1: Any, tmp_path: Path
) -> None:
    """While a job runs, its task log is readable through the REST API (the UI's log
    endpoint), up to the task's deferral to the triggerer that watches the job pod, and then
    the trigger's own lines, read from the triggerer. Then the scheduler pod is deleted: its
    replacement resumes the task when the trigger fires, the run succeeds, and exactly one job
    pod was ever created."""
    from airflow_platform.client import AirflowClient

    spec = write_job(tmp_path, "steady", "sleep 90; echo steady-done")
    result = _submit(platform_release, spec)
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = result.stdout.split(": run ", 1)[1].split()[0]
    team_ns = platform_release.team_namespace("vision")
    seen: set[str] = set()

    def job_pod_running() -> bool:
        pods = core_v1.list_namespaced_pod(
            team_ns, label_selector="airflow-platform/job=steady"
        ).items
        seen.update(p.metadata.name for p in pods)
        return any(p.status.phase == "Running" for p in pods)

    wait_for(job_pod_running, timeout=300, what="the job pod Running", interval=1)
    client = AirflowClient(
        platform_release.api_url(), username="admin", password=platform_release.ui_password()
    )

    _wait_for_log_line(
        client, run_id, lambda line: "Pausing task as DEFERRED" in line,
        "the deferral in the task log", timeout=40,
    )  # fmt: skip
    # The api-server reads the running trigger's lines from the triggerer's log server.
    _wait_for_log_line(
        client, run_id, lambda line: line.startswith("trigger ") and " starting" in line,
        "the trigger's lines in the deferred task's log", timeout=30,
    )  # fmt: skip
    assert client.run(run_id)["state"] == "running"
    for pod in core_v1.list_namespaced_pod(
        platform_release.namespace, label_selector="app.kubernetes.io/component=scheduler"
    ).items:
        core_v1.delete_namespaced_pod(pod.metadata.name, platform_release.namespace)

    def finished() -> str | None:
        job_pod_running()
        state = str(client.run(run_id)["state"])
        return state if state in ("success", "failed") else None

    state = wait_for(finished, timeout=600, what=f"run {run_id} finished", interval=2)
    if state != "success":
        tis = client.task_instances(run_id)
        said = {
            ti["task_id"]: (ti.get("state"), ti.get("try_number"), ti.get("note")) for ti in tis
        }
        logs = "\n".join(
            line
            for ti in tis
            for line in client.log_lines(run_id, ti["task_id"], int(ti.get("try_number") or 1))[
                -40:
            ]
        )
        pytest.fail(f"run {run_id} ended {state}: {said}\n{logs}")
    assert len(seen) == 1, f"job pods created: {sorted(seen)}"


def test_with_the_fab_auth_manager_users_log_in_and_stay_in_their_teams(
    platform_release: Release, apps_v1: Any, tmp_path: Path
) -> None:
    """`helm upgrade --set auth.manager=fab`: the migration Job migrates FAB's tables and
    creates the first Admin with the generated Secret's password; the api-server refuses a call
    without credentials and gives FAB users tokens. Two database users made the way a platform
    team makes them (`airflow users create` in the api-server), each mapped by name to one team
    (`platform.teams.<team>.users`): nlp-scientist is refused a job of vision's folder, with
    the team named, and vision-scientist's job runs."""
    generations = _generations(apps_v1, platform_release)
    platform_release.helm(
        "upgrade", RELEASE, str(CHART_DIR), "--namespace", platform_release.namespace,
        "--reuse-values", "--set", "auth.manager=fab",
        "--set", "platform.teams.vision.users[0]=vision-scientist", "--timeout", "900s",
    )  # fmt: skip
    wait_for(
        lambda: all(_rolled(apps_v1, platform_release, n, g) for n, g in generations.items()),
        timeout=900, what="every component rolled and Ready", interval=2,
    )  # fmt: skip
    wait_for(
        lambda: _migrated(platform_release),
        timeout=600, what="the FAB migration Job succeeded", interval=2,
    )  # fmt: skip
    platform_release.close_forwards()
    url = platform_release.api_url()
    assert httpx.get(f"{url}/api/v2/dags", timeout=30).status_code == 401
    admin_password = platform_release.secret(f"{FULLNAME}-fab-admin", "password")
    login = httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": admin_password}, timeout=60
    )
    assert login.status_code == 201, login.text
    token = login.json()["access_token"]
    dags = httpx.get(f"{url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert dags.status_code == 200, dags.text
    assert httpx.post(
        f"{url}/auth/token", json={"username": "admin", "password": "wrong"}, timeout=60
    ).status_code in (400, 401)

    passwords = {user: os.urandom(12).hex() for user in ("nlp-scientist", "vision-scientist")}
    create = " && ".join(
        f"airflow users create --role User --username {user} --email {user}@example.invalid "
        f"--firstname {user} --lastname {user} --password {password}"
        for user, password in passwords.items()
    )
    made = platform_release.kubectl(
        "exec", "-n", platform_release.namespace, f"deployment/{FULLNAME}-api-server", "--",
        "sh", "-c", create, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]

    refused = _submit(
        platform_release, write_job(tmp_path, "not-mine-fab", "echo should-not-run"), "--wait",
        user="nlp-scientist", password=passwords["nlp-scientist"],
    )  # fmt: skip
    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "Airflow user 'nlp-scientist' may not run jobs as team 'vision'" in refused.stdout
    assert "should-not-run" not in refused.stdout
    ran = _submit(
        platform_release, write_job(tmp_path, "mine-fab", "echo ran-as-vision-scientist"),
        "--wait", user="vision-scientist", password=passwords["vision-scientist"],
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "ran-as-vision-scientist" in ran.stdout


def _generations(apps_v1: Any, release: Release) -> dict[str, int]:
    return {
        name: apps_v1.read_namespaced_deployment(name, release.namespace).metadata.generation
        for name in (
            f"{FULLNAME}-{c}" for c in ("api-server", "scheduler", "dag-processor", "triggerer")
        )
    }


def _migrated(release: Release) -> bool:
    """The release's migration Job (one: `helm upgrade` replaces the last revision's) has
    succeeded."""
    out = release.kubectl("get", "jobs", "-n", release.namespace, "-o", "json").stdout
    jobs = [
        j
        for j in json.loads(out)["items"]
        if j["metadata"]["name"].startswith(f"{FULLNAME}-migrate-")
    ]
    return len(jobs) == 1 and (jobs[0].get("status", {}).get("succeeded") or 0) >= 1


def test_uninstall_leaves_nothing_of_the_release(platform_release: Release, core_v1: Any) -> None:
    """`helm uninstall` removes every object of the release from its namespaces (the embedded
    database's claim, which Kubernetes keeps on purpose, is the one documented exception)."""
    platform_release.close_forwards()
    platform_release.helm("uninstall", RELEASE, "--namespace", platform_release.namespace, "--wait")

    def gone() -> bool:
        return not [o for o in release_objects(platform_release) if o[0] != "PersistentVolumeClaim"]

    wait_for(gone, timeout=300, what="the release's objects removed", interval=2)
    assert [o for o in release_objects(platform_release) if o[0] != "PersistentVolumeClaim"] == []
