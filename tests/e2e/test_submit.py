"""`airflow-platform submit --wait` against a real Airflow 3.3 started by the test.

The test starts Airflow's api-server, scheduler (LocalExecutor) and dag-processor on loopback
with a SQLite database and the simple auth manager; jobs run on the local backend, since there
is no container runtime here. Everything is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.harness.controlplane import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USER, PASSWORD = "scientist", "not-a-real-secret"


@dataclass
class Airflow:
    url: str
    env: dict[str, str]
    jobs: Path
    home: Path


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    """Starts api-server, scheduler and dag-processor; yields the URL; stops them all."""
    home = tmp_path_factory.mktemp("airflow-e2e")
    jobs = home / "jobs"
    (jobs / "nlp").mkdir(parents=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The job's output is logged at INFO: whatever the test session set, keep it.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-test-jwt-secret-of-enough-length-0123456789",
        "AIRFLOW__API__SECRET_KEY": "e2e-test-secret-key",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW_PLATFORM_JOBS_DIR": str(jobs),
        "AIRFLOW_PLATFORM_BACKEND": "local",
    }
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True
    )
    logs = home / "logs-e2e"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    for name, args in (
        ("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"]),
        ("scheduler", ["scheduler"]),
        ("dag-processor", ["dag-processor"]),
    ):
        with (logs / f"{name}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [str(BIN / "airflow"), *args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    try:
        _wait_until_serving(url, procs, logs)
        yield Airflow(url, env, jobs, home)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_until_serving(url: str, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                tails = {p.name: p.read_text()[-2000:] for p in logs.iterdir()}
                pytest.fail(f"an Airflow component exited early: {tails}")
        try:
            if httpx.get(f"{url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail("Airflow's api-server did not answer within 180 s")


def _wait_for_dag(airflow: Airflow, dag_id: str) -> None:
    token = httpx.post(
        f"{airflow.url}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=10
    ).json()["access_token"]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{airflow.url}/api/v2/dags/{dag_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if response.status_code == 200:
            return
        time.sleep(2)
    pytest.fail(f"the dag-processor did not register {dag_id} within 180 s")


def _write_job(airflow: Airflow, name: str, script: str) -> Path:
    spec = airflow.jobs / "nlp" / f"{name}.yaml"
    job = {
        "team": "nlp",
        "resource_flavor": "cpu-2gb",
        "docker_image": "registry.internal/nlp/tools:0.3.1",
        "execution_time": "2m",
        "execution_script": script,
    }
    spec.write_text(yaml.safe_dump({"job": job}))
    return spec


def _cli(airflow: Airflow, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs `airflow-platform ARGS` against the test's Airflow as the test user."""
    env = {
        **airflow.env,
        "AIRFLOW_PLATFORM_API_URL": airflow.url,
        "AIRFLOW_PLATFORM_API_USERNAME": USER,
        "AIRFLOW_PLATFORM_API_PASSWORD": PASSWORD,
    }
    return subprocess.run(
        [str(BIN / "airflow-platform"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_submit_wait_streams_the_log_and_exits_with_success(airflow_server: Airflow) -> None:
    """A good job: the URL is printed, the job's own output is streamed, exit status 0."""
    _wait_for_dag(airflow_server, "platform_job_runner")
    spec = _write_job(airflow_server, "hello", "echo hello-from-the-job $AIRFLOW_PLATFORM_TEAM")
    result = _cli(airflow_server, "submit", str(spec), "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{airflow_server.url}/dags/platform_job_runner/runs/" in result.stdout
    assert "hello-from-the-job nlp" in result.stdout
    run_id = result.stdout.split("run ", 1)[1].split()[0]
    status = _cli(airflow_server, "status", run_id, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"platform_job_runner {run_id}: success" in status.stdout
    assert "run_job: success" in status.stdout


def test_submit_wait_of_a_failing_job_exits_1_with_the_reason(airflow_server: Airflow) -> None:
    """A job exiting 7: the reason appears in the streamed log and submit exits 1."""
    _wait_for_dag(airflow_server, "platform_job_runner")
    spec = _write_job(airflow_server, "fails", "exit 7")
    result = _cli(airflow_server, "submit", str(spec), "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "job fails exited with code 7" in result.stdout
