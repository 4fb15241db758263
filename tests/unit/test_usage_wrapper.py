"""The job images' usage wrapper, run for real, and how the pod builder puts it in front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_platform.config import load_config
from airflow_platform.metrics.emit import parse_usage_line
from airflow_platform.pods import build_pod
from airflow_platform.spec import JobSpec

pytestmark = pytest.mark.unit
WRAPPER = Path(__file__).resolve().parents[2] / "images" / "job-tools" / "airflow-platform-usage"
JOB = JobSpec(
    name="train",
    team="vision",
    resource_flavor="cpu-2gb",
    docker_image="registry.internal/vision/train:1.0",
    execution_time="10m",
    execution_script="python train.py",
)


def _wrap(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WRAPPER), *command], capture_output=True, text=True, timeout=60
    )


def test_wrapper_reports_the_peak_memory_and_cpu_the_job_used() -> None:
    """A job holding 200 MiB and spinning the CPU: the last line reports at least that."""
    code = "x = bytearray(200 * 2**20); sum(range(3_000_000)); print('done')"
    result = _wrap(sys.executable, "-c", code)
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "done"
    usage = parse_usage_line(result.stdout)
    assert usage is not None, result.stdout
    peak, cpu = usage
    assert peak >= 200 * 2**20
    assert cpu > 0


def test_wrapper_exits_with_the_job_exit_code() -> None:
    """The wrapper is transparent to the job's outcome."""
    result = _wrap("/bin/sh", "-c", "exit 7")
    assert result.returncode == 7
    assert result.stdout.startswith("AIRFLOW_PLATFORM_USAGE ")


def test_pod_command_starts_with_the_wrapper_only_when_the_platform_sets_one() -> None:
    """Off by default (the job's command as written); on, the wrapper comes first."""
    config = load_config()
    assert build_pod(JOB, config).spec.containers[0].command == ["/bin/sh", "-c", "python train.py"]
    policy = config.policy.model_copy(
        update={"usage_wrapper": "/usr/local/bin/airflow-platform-usage"}
    )
    wrapped = config.model_copy(update={"policy": policy})
    assert build_pod(JOB, wrapped).spec.containers[0].command == [
        "/usr/local/bin/airflow-platform-usage",
        "/bin/sh",
        "-c",
        "python train.py",
    ]
