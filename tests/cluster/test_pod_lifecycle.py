"""How job pods run on the simulated nodes. kwok stands in for the kubelet and the container
runtime (nothing is executed); the phases and container states it writes are the ones the
platform's operators and alerts read, so failure paths can be tested against the real API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.cluster.jobpods import job_pod
from tests.harness.kube import (
    FAIL_EXIT_CODE,
    FAIL_MESSAGE,
    FAIL_REASON,
    KEEP_RUNNING,
    RUN_DURATION,
    wait_for,
)

pytestmark = pytest.mark.cluster


def _phases(
    core_v1: Any, namespace: str, name: str, until: set[str], timeout: float = 60
) -> list[str]:
    """Every phase seen while polling the pod until it reaches one of `until`."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        phase = core_v1.read_namespaced_pod(name, namespace).status.phase
        if not seen or seen[-1] != phase:
            seen.append(phase)
        if phase in until:
            return seen
        time.sleep(0.05)
    raise TimeoutError(f"{name} never reached {until}; phases seen: {seen}")


def test_plain_job_pod_goes_pending_running_succeeded(
    core_v1: Any, restricted_namespace: str
) -> None:
    """A job pod from the pod builder is created Pending, scheduled, Running for its run time,
    then Succeeded with exit code 0, as the KubernetesExecutor would see a real job finish."""
    ns = restricted_namespace
    pod = job_pod("cpu-2gb", "plain", annotations={RUN_DURATION: "2s"})
    created = core_v1.create_namespaced_pod(ns, pod)
    assert created.status.phase == "Pending"
    phases = _phases(core_v1, ns, "plain", until={"Succeeded", "Failed"})
    assert phases[-2:] == ["Running", "Succeeded"], phases
    status = core_v1.read_namespaced_pod("plain", ns).status
    terminated = status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (0, "Completed")


def test_pod_annotated_to_fail_ends_failed_with_the_chosen_exit_code_and_reason(
    core_v1: Any, restricted_namespace: str
) -> None:
    """A pod annotated to fail runs, then ends Failed with exactly the exit code, reason and
    message the test chose (here an out-of-memory kill), for tests of failure handling."""
    ns = restricted_namespace
    annotations = {
        FAIL_EXIT_CODE: "137",
        FAIL_REASON: "OOMKilled",
        FAIL_MESSAGE: "memory limit 2Gi",
    }
    core_v1.create_namespaced_pod(ns, job_pod("cpu-2gb", "oom", annotations=annotations))
    phases = _phases(core_v1, ns, "oom", until={"Succeeded", "Failed"})
    assert phases[-2:] == ["Running", "Failed"], phases
    terminated = (
        core_v1.read_namespaced_pod("oom", ns).status.container_statuses[0].state.terminated
    )
    assert terminated.exit_code == 137
    assert terminated.reason == "OOMKilled"
    assert terminated.message == "memory limit 2Gi"


def test_pod_annotated_to_keep_running_stays_running(
    core_v1: Any, restricted_namespace: str
) -> None:
    """A job pod annotated to keep running is still Running well after a plain pod would have
    finished, so tests can hold capacity or watch a job in flight."""
    ns = restricted_namespace
    core_v1.create_namespaced_pod(
        ns, job_pod("cpu-2gb", "forever", annotations={KEEP_RUNNING: "true"})
    )
    wait_for(
        lambda: core_v1.read_namespaced_pod("forever", ns).status.phase == "Running",
        timeout=30,
        what="forever Running",
    )
    time.sleep(3)
    assert core_v1.read_namespaced_pod("forever", ns).status.phase == "Running"


def test_job_pod_running_past_its_execution_time_fails_with_deadline_exceeded(
    core_v1: Any, restricted_namespace: str
) -> None:
    """A job pod that would run forever is failed once its execution_time (the pod's
    activeDeadlineSeconds) has passed, with the kubelet's reason DeadlineExceeded."""
    ns = restricted_namespace
    pod = job_pod("cpu-2gb", "too-slow", annotations={KEEP_RUNNING: "true"}, execution_time="3s")
    assert pod["spec"]["activeDeadlineSeconds"] == 3
    core_v1.create_namespaced_pod(ns, pod)
    phases = _phases(core_v1, ns, "too-slow", until={"Succeeded", "Failed"}, timeout=30)
    assert phases[-2:] == ["Running", "Failed"], phases
    status = core_v1.read_namespaced_pod("too-slow", ns).status
    assert status.reason == "DeadlineExceeded"
    ran = status.container_statuses[0].state.terminated.finished_at - status.start_time
    assert ran.total_seconds() >= 2, ran
