"""Job pods on the real node: scripts really run, limits are really enforced, logs are real.

Nothing here is simulated: the pods are the platform's own (``build_pod``), the images were
built from ``images/`` by ``make images``, the kubelet and containerd are the real programs
(tests/harness/node.py), and the cgroup, deadline and log behaviour is theirs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform.config import PlatformConfig
from airflow_platform.failures import explain_failure, failure_reason
from airflow_platform.pods import JOB_UID, WORK_DIR
from tests.harness import tools
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import ensure_namespace
from tests.harness.node import RealNode
from tests.node import podrun

pytestmark = pytest.mark.node
ROOT = Path(__file__).resolve().parents[2]


def test_job_spec_runs_its_script_on_the_real_node_and_its_log_is_read_through_the_api(
    real_node: RealNode, core_v1: Any, restricted_namespace: str, node_config: PlatformConfig
) -> None:
    """A spec file, checked by the loader and the policy, runs as the pod build_pod makes, on
    the real node, and what it printed comes back through pods/log."""
    spec = podrun.spec_job(podrun.NODE_JOBS / "vision" / "hello.yaml", node_config)
    result = podrun.run(core_v1, spec, node_config, restricted_namespace)
    assert result.phase == "Succeeded", result.pod.status
    assert result.pod.spec.node_name == real_node.name
    assert "hello from hello" in podrun.log(core_v1, result)
    assert result.terminated().exit_code == 0


def test_rendered_spec_applied_with_kubectl_runs_on_the_real_node(
    real_node: RealNode, control_plane: Any, core_v1: Any, node_config: PlatformConfig
) -> None:
    """`airflow-platform render` piped into `kubectl apply`, as CONTRIBUTING.md shows it."""
    spec = podrun.NODE_JOBS / "vision" / "hello.yaml"
    rendered = subprocess.run(
        [sys.executable, "-m", "airflow_platform.cli", "render", str(spec)],
        capture_output=True,
        text=True,
        check=True,
        env={
            **control_plane.env,
            "AIRFLOW_PLATFORM_CONFIG": str(ROOT / "tests/data/node/platform.yaml"),
        },
    ).stdout
    pod = yaml.safe_load(rendered)
    namespace = pod["metadata"]["namespace"]
    ensure_namespace(core_v1, namespace, RESTRICTED_LABELS)
    kubectl = str(tools.tool_path("kubectl"))
    subprocess.run(
        [kubectl, "apply", "-f", "-"], input=rendered, text=True, check=True, env=control_plane.env
    )
    try:
        result = podrun.watch(core_v1, pod["metadata"]["name"], namespace)
        assert result.phase == "Succeeded", result.pod.status
        logs = subprocess.run(
            [kubectl, "logs", "-n", namespace, pod["metadata"]["name"]],
            capture_output=True,
            text=True,
            check=True,
            env=control_plane.env,
        ).stdout
        assert "hello from hello" in logs
    finally:
        core_v1.delete_namespaced_pod(pod["metadata"]["name"], namespace, grace_period_seconds=0)


CHECK_SANDBOX = r"""
set -u
echo "uid=$(id -u) gid=$(id -g)"
grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
if touch /root-write-test 2>/dev/null; then echo "root: writable"; else echo "root: read-only"; fi
for dir in /tmp "$AIRFLOW_PLATFORM_WORK_DIR" "$HOME"; do
  if echo ok > "$dir/probe"; then echo "writable: $dir"; fi
done
python -c 'import tempfile; tempfile.NamedTemporaryFile(); print("python tempfile: ok")'
"""


def test_job_runs_as_the_job_user_with_a_read_only_root_and_writable_scratch(
    real_node: RealNode, core_v1: Any, restricted_namespace: str, node_config: PlatformConfig
) -> None:
    """Non-root job user, no capabilities, no privilege gain, read-only root filesystem; /tmp
    and the work folder ($HOME) are writable."""
    spec = podrun.job("sandbox", CHECK_SANDBOX)
    result = podrun.run(core_v1, spec, node_config, restricted_namespace)
    output = podrun.log(core_v1, result)
    assert result.phase == "Succeeded", output
    assert f"uid={JOB_UID} gid={JOB_UID}" in output
    assert "CapEff:\t0000000000000000" in output
    assert "NoNewPrivs:\t1" in output
    assert "root: read-only" in output
    for directory in ("/tmp", WORK_DIR):
        assert f"writable: {directory}" in output
    assert "python tempfile: ok" in output


ALLOCATE = (
    'python -c \'x = bytearray({size}); x[::4096] = b"x" * len(x[::4096]); print("allocated")\''
)


def test_job_over_its_flavor_memory_is_oom_killed_and_explained(
    real_node: RealNode, core_v1: Any, restricted_namespace: str, node_config: PlatformConfig
) -> None:
    """The kernel's OOM killer stops a job over its flavor's 64Mi; the one-line reason names
    the flavor and a bigger one to try."""
    spec = podrun.job("hungry", ALLOCATE.format(size=200 * 2**20), flavor="node-64mb")
    result = podrun.run(core_v1, spec, node_config, restricted_namespace)
    assert result.phase == "Failed"
    terminated = result.terminated()
    assert (terminated.reason, terminated.exit_code) == ("OOMKilled", 137)
    assert failure_reason(result.pod) == "oom"
    assert explain_failure(result.pod, spec, node_config) == (
        "job hungry ran out of memory (OOMKilled): flavor node-64mb gives 64Mi; "
        "try resource_flavor: node-256mb"
    )


@pytest.mark.parametrize(
    ("script", "handles_sigterm"),
    [
        ("sleep 600", False),
        ("trap 'echo stopping; exit 143' TERM; sleep 600 & wait", True),
    ],
    ids=["ignores-sigterm", "handles-sigterm"],
)
def test_job_past_its_execution_time_ends_deadline_exceeded_within_the_grace_period(
    real_node: RealNode,
    core_v1: Any,
    restricted_namespace: str,
    node_config: PlatformConfig,
    script: str,
    handles_sigterm: bool,
) -> None:
    """activeDeadlineSeconds ends the pod DeadlineExceeded. A script that ignores SIGTERM (a
    plain PID 1) is killed when the platform's grace period runs out; one that handles it stops
    at once. Measured: how long after the deadline the container really stopped."""
    spec = podrun.job("overtime", script, execution_time="5 seconds")
    result = podrun.run(core_v1, spec, node_config, restricted_namespace)
    assert (result.phase, result.pod.status.reason) == ("Failed", "DeadlineExceeded")
    assert failure_reason(result.pod) == "timeout"
    assert "hit its execution_time of 5s" in explain_failure(result.pod, spec, node_config)
    late = podrun.seconds_after_deadline(result)
    grace = node_config.policy.termination_grace_period.total_seconds()
    print(f"\nstopped {late:.0f} s after its deadline (grace period {grace:.0f} s)")
    # Timestamps are whole seconds; the kubelet checks deadlines about once a second.
    if handles_sigterm:
        assert late <= 3
    else:
        assert grace - 2 <= late <= grace + 4


def test_image_missing_from_the_node_fails_fast_naming_the_image(
    real_node: RealNode, core_v1: Any, restricted_namespace: str, node_config: PlatformConfig
) -> None:
    """Nothing can be pulled here: the kubelet reports the pull failure within seconds, and the
    explanation names the image (the operator's fast failure is tested in tests/airflow)."""
    missing = "registry.internal/airflow-platform/not-built:9.9"
    spec = podrun.job("no-image", "true", docker_image=missing)
    name = podrun.start(core_v1, spec, node_config, restricted_namespace)
    pod = _wait_for_image_error(core_v1, name, restricted_namespace)
    assert failure_reason(pod) == "image_error"
    assert missing in explain_failure(pod, spec, node_config)


def _wait_for_image_error(core_v1: Any, name: str, namespace: str) -> Any:
    from tests.harness.kube import wait_for

    def errored() -> Any:
        pod = core_v1.read_namespaced_pod(name, namespace)
        return pod if failure_reason(pod) == "image_error" else None

    return wait_for(errored, timeout=30, what=f"an image error on {name}")


def test_usage_wrapper_reports_peak_memory_within_ten_percent(
    real_node: RealNode,
    core_v1: Any,
    restricted_namespace: str,
    node_config: PlatformConfig,
) -> None:
    """The job images' usage wrapper, in front of a job that touches 150 MiB, reports a peak
    within 10 % of it (the interpreter's own few MiB included)."""
    from airflow_platform.metrics.emit import parse_usage_line

    wrapped = node_config.model_copy(
        update={
            "policy": node_config.policy.model_copy(
                update={"usage_wrapper": "/usr/local/bin/airflow-platform-usage"}
            )
        }
    )
    size = 150 * 2**20
    spec = podrun.job("measured", ALLOCATE.format(size=size))
    result = podrun.run(core_v1, spec, wrapped, restricted_namespace)
    output = podrun.log(core_v1, result)
    assert result.phase == "Succeeded", output
    usage = parse_usage_line(output)
    assert usage is not None, output
    peak, _cpu = usage
    print(f"\npeak {peak} bytes for {size} allocated")
    assert abs(peak - size) <= 0.10 * size


def test_burst_of_thirty_jobs_all_complete_and_none_runs_twice(
    real_node: RealNode, core_v1: Any, restricted_namespace: str, node_config: PlatformConfig
) -> None:
    """30 small jobs created at once: every one succeeds, once, with its own output."""
    from tests.harness.kube import wait_for

    names = [
        podrun.start(
            core_v1,
            podrun.job(f"burst-{i:02d}", f"echo run-{i:02d}", flavor="node-64mb"),
            node_config,
            restricted_namespace,
        )
        for i in range(30)
    ]

    def all_done() -> list[Any] | None:
        pods = core_v1.list_namespaced_pod(restricted_namespace).items
        finished = [p for p in pods if p.status.phase in ("Succeeded", "Failed")]
        return pods if len(finished) == len(names) else None

    pods = wait_for(all_done, timeout=300, what="30 jobs finished", interval=1)
    assert sorted(p.metadata.name for p in pods) == sorted(names)
    assert all(p.status.phase == "Succeeded" for p in pods)
    for pod in pods:
        (status,) = pod.status.container_statuses
        assert status.restart_count == 0
        index = pod.metadata.name.removeprefix("burst-")
        out = podrun.pod_log(core_v1, pod.metadata.name, restricted_namespace)
        assert out.split() == [f"run-{index}"]
