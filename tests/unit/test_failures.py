"""One-line failure explanations, from pod statuses as the kubelet and scheduler write them."""

from __future__ import annotations

import pytest
from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateTerminated,
    V1ContainerStateWaiting,
    V1ContainerStatus,
    V1Node,
    V1NodeStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodCondition,
    V1PodStatus,
)

from airflow_platform.config import load_config
from airflow_platform.failures import bigger_flavor, explain_failure, failure_reason
from airflow_platform.spec import JobSpec

pytestmark = pytest.mark.unit
CONFIG = load_config()


def _job(flavor: str = "cpu-2gb", team: str = "vision") -> JobSpec:
    return JobSpec(
        name="train",
        team=team,
        resource_flavor=flavor,
        docker_image="registry.internal/vision/train:1.0",
        execution_time="90m",
        execution_script="python train.py",
    )


def _pod(
    *,
    terminated: V1ContainerStateTerminated | None = None,
    waiting: V1ContainerStateWaiting | None = None,
    reason: str | None = None,
    phase: str = "Failed",
    conditions: list[V1PodCondition] | None = None,
) -> V1Pod:
    state = V1ContainerState(terminated=terminated, waiting=waiting)
    status = V1ContainerStatus(
        name="base", image="x", image_id="", ready=False, restart_count=0, state=state
    )
    return V1Pod(
        status=V1PodStatus(
            phase=phase, reason=reason, container_statuses=[status], conditions=conditions
        )
    )


def test_oom_names_the_flavor_memory_and_the_next_bigger_flavor() -> None:
    """OOMKilled: what the flavor gave and which flavor to try next."""
    pod = _pod(terminated=V1ContainerStateTerminated(exit_code=137, reason="OOMKilled"))
    assert failure_reason(pod) == "oom"
    assert explain_failure(pod, _job("cpu-2gb"), CONFIG) == (
        "job train ran out of memory (OOMKilled): flavor cpu-2gb gives 2Gi; "
        "try resource_flavor: cpu-4gb"
    )


def test_bigger_flavor_stays_within_the_team_and_the_gpu_kind() -> None:
    """A GPU job is offered a bigger GPU flavor its team may use, never a CPU one."""
    assert bigger_flavor(_job("gpu-1x-24gb", team="vision"), CONFIG) == "gpu-4x-96gb"
    assert bigger_flavor(_job("gpu-1x-24gb", team="nlp"), CONFIG) is None
    assert bigger_flavor(_job("cpu-16gb"), CONFIG) == "ram-64gb"


def test_deadline_exceeded_names_the_execution_time() -> None:
    """activeDeadlineSeconds ran out: the message quotes the spec's execution_time."""
    pod = _pod(reason="DeadlineExceeded")
    assert failure_reason(pod) == "timeout"
    assert "hit its execution_time of 1h30m" in explain_failure(pod, _job(), CONFIG)


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_image_pull_failures_name_the_image(reason: str) -> None:
    """Image errors point at the image reference, whatever the kubelet's wording."""
    pod = _pod(waiting=V1ContainerStateWaiting(reason=reason, message="not found"), phase="Pending")
    assert failure_reason(pod) == "image_error"
    text = explain_failure(pod, _job(), CONFIG)
    assert f"could not pull image registry.internal/vision/train:1.0 ({reason})" in text


def test_unschedulable_says_what_was_asked_and_what_the_largest_node_offers() -> None:
    """The scheduler's condition message plus the biggest node's allocatable GPUs."""
    condition = V1PodCondition(
        type="PodScheduled",
        status="False",
        reason="Unschedulable",
        message="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
    )
    pod = _pod(phase="Pending", conditions=[condition])
    nodes = [
        V1Node(
            metadata=V1ObjectMeta(
                name="gpu-1",
                labels={"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": "NVIDIA-A10G"},
            ),
            status=V1NodeStatus(
                allocatable={"cpu": "96", "memory": "384Gi", "nvidia.com/gpu": "2"}
            ),
        ),
        V1Node(
            metadata=V1ObjectMeta(name="cpu-1", labels={}),
            status=V1NodeStatus(allocatable={"cpu": "1000", "memory": "4Ti"}),
        ),
    ]
    text = explain_failure(pod, _job("gpu-4x-96gb"), CONFIG, nodes)
    assert failure_reason(pod) == "unschedulable"
    assert text.startswith("job train found no node within its 30m startup allowance: ")
    assert "asks for 4 GPUs, 32 CPUs and 192Gi memory" in text
    assert (
        "the largest NVIDIA-A10G GPU node (gpu-1) offers 2 GPUs, 96 CPUs and 384Gi memory" in text
    )
    assert "(scheduler: 3 Insufficient nvidia.com/gpu)" in text


def test_non_zero_exit_code_is_quoted() -> None:
    """A plain failure gives the exit code."""
    pod = _pod(terminated=V1ContainerStateTerminated(exit_code=3, reason="Error"))
    assert failure_reason(pod) == "failed"
    assert explain_failure(pod, _job(), CONFIG) == "job train exited with code 3; see its log above"


KINIT_MESSAGE = (
    "kerberos: cannot log in as svc-nlp@EXAMPLE.COM from the team's keytab: kinit: Client "
    "'svc-nlp@EXAMPLE.COM' not found in Kerberos database while getting initial credentials\n"
    "kerberos: the keytab holds keys for: svc-vision@EXAMPLE.COM\n"
)


def _init_failed_pod(message: str | None) -> V1Pod:
    from kubernetes.client import V1ContainerStateWaiting as Waiting

    return V1Pod(
        metadata=V1ObjectMeta(name="train-abc", namespace="airflow-jobs-vision"),
        status=V1PodStatus(
            phase="Failed",
            init_container_statuses=[
                V1ContainerStatus(
                    name="kerberos-init",
                    image="x",
                    image_id="",
                    ready=False,
                    restart_count=0,
                    state=V1ContainerState(
                        terminated=V1ContainerStateTerminated(
                            exit_code=1, reason="Error", message=message
                        )
                    ),
                )
            ],
            container_statuses=[
                V1ContainerStatus(
                    name="base",
                    image="x",
                    image_id="",
                    ready=False,
                    restart_count=0,
                    state=V1ContainerState(waiting=Waiting(reason="PodInitializing")),
                )
            ],
        ),
    )


def test_a_failed_kinit_init_container_gives_its_message_as_the_reason() -> None:
    """The Kerberos login failure reaches the one-line reason, principal and keytab included."""
    line = explain_failure(_init_failed_pod(KINIT_MESSAGE), _job(), CONFIG)
    assert line.startswith("job train did not start: container kerberos-init exited with code 1")
    assert "cannot log in as svc-nlp@EXAMPLE.COM" in line
    assert "the keytab holds keys for: svc-vision@EXAMPLE.COM" in line
    assert "\n" not in line
    assert failure_reason(_init_failed_pod(KINIT_MESSAGE)) == "failed"


def test_a_failed_init_container_without_a_message_points_to_its_log() -> None:
    line = explain_failure(_init_failed_pod(None), _job(), CONFIG)
    assert line.endswith("see `kubectl logs train-abc -c kerberos-init`")
