"""Why a job's pod failed, in one line a scientist can act on.

Reads only the pod's status (and, for capacity, the nodes), so the operator, the CLI and
the tests all explain a failure the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_platform.config import PlatformConfig, parse_memory
from airflow_platform.pods import CONTAINER_NAME
from airflow_platform.runners.local import LocalResult
from airflow_platform.scheduling import explain_unschedulable
from airflow_platform.spec.durations import format_duration
from airflow_platform.spec.models import JobSpec

IMAGE_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


def _terminated(pod: Any) -> Any:
    for status in getattr(pod.status, "container_statuses", None) or []:
        if status.name == CONTAINER_NAME and status.state and status.state.terminated:
            return status.state.terminated
    return None


def _failed_helper(pod: Any) -> tuple[str, Any] | None:
    """The first init container or sidecar (a native sidecar is an init container with
    ``restartPolicy: Always``) that ended with a non-zero exit, e.g. ``kerberos-init``."""
    for status in getattr(pod.status, "init_container_statuses", None) or []:
        for state in (status.state, status.last_state):
            terminated = state.terminated if state is not None else None
            if terminated is not None and terminated.exit_code not in (None, 0):
                return status.name, terminated
    return None


def _waiting_reason(pod: Any) -> tuple[str, str] | None:
    for status in getattr(pod.status, "container_statuses", None) or []:
        if status.state and status.state.waiting and status.state.waiting.reason:
            return status.state.waiting.reason, status.state.waiting.message or ""
    return None


def _unschedulable_message(pod: Any) -> str | None:
    for condition in getattr(pod.status, "conditions", None) or []:
        if condition.type == "PodScheduled" and condition.reason == "Unschedulable":
            return str(condition.message or "no node fits")
    return None


def bigger_flavor(job: JobSpec, config: PlatformConfig) -> str | None:
    """The smallest flavor the team may use with more memory than the job's, if any."""
    current = config.flavors[job.resource_flavor]
    wanted_gpu = current.gpu is not None
    options = [
        (parse_memory(f.memory), name)
        for name, f in config.flavors.items()
        if parse_memory(f.memory) > parse_memory(current.memory)
        and f.usable_by(job.team)
        and (f.gpu is not None) == wanted_gpu
    ]
    return min(options)[1] if options else None


def _out_of_memory(job: JobSpec, config: PlatformConfig) -> str:
    bigger = bigger_flavor(job, config)
    advice = f"try resource_flavor: {bigger}" if bigger else "use less memory"
    memory = config.flavors[job.resource_flavor].memory
    return (
        f"job {job.name} ran out of memory (OOMKilled): flavor {job.resource_flavor} gives "
        f"{memory}; {advice}"
    )


def _deadline_exceeded(job: JobSpec) -> str:
    return (
        f"job {job.name} hit its execution_time of {format_duration(job.execution_time)} "
        "and was stopped (DeadlineExceeded); ask for more time or make it faster"
    )


def explain_timeout(job: JobSpec, config: PlatformConfig) -> str:
    """Airflow stopped the task: the pod outlived execution_time plus its startup allowance."""
    allowance = format_duration(config.flavors[job.resource_flavor].startup_allowance)
    return (
        f"job {job.name} ran past its execution_time of {format_duration(job.execution_time)} "
        f"(plus {allowance} to start) and was stopped; ask for more time or make it faster"
    )


def failure_reason(pod: Any) -> str:
    """A bounded reason label for metrics: oom, timeout, image_error, unschedulable, failed."""
    terminated = _terminated(pod)
    if terminated is not None and terminated.reason == "OOMKilled":
        return "oom"
    if getattr(pod.status, "reason", None) == "DeadlineExceeded":
        return "timeout"
    waiting = _waiting_reason(pod)
    if waiting and waiting[0] in IMAGE_ERRORS:
        return "image_error"
    if _unschedulable_message(pod):
        return "unschedulable"
    return "failed"


def explain_failure(
    pod: Any, job: JobSpec, config: PlatformConfig, nodes: Sequence[Any] = ()
) -> str:
    """One line on why ``pod`` (a V1Pod with status) did not succeed, and what to try."""
    reason = failure_reason(pod)
    if reason == "oom":
        return _out_of_memory(job, config)
    if reason == "timeout":
        return _deadline_exceeded(job)
    if reason == "image_error":
        waiting = _waiting_reason(pod) or ("", "")
        return (
            f"job {job.name} could not pull image {job.docker_image} ({waiting[0]}): check the "
            f"name and tag exist in the registry {waiting[1]}".rstrip()
        )
    if reason == "unschedulable":
        flavor = config.flavors[job.resource_flavor]
        detail = explain_unschedulable(
            _unschedulable_message(pod) or "",
            job.resource_flavor,
            flavor,
            list(nodes),
            config.gpu_nodes,
        )
        waited = format_duration(flavor.startup_allowance)
        return f"job {job.name} found no node within its {waited} startup allowance: {detail}"
    helper = _failed_helper(pod)
    if helper is not None and _terminated(pod) is None:
        # The job never ran: what the init container said is the reason (the kinit script's
        # message names the principal, the realm and the keys the keytab holds).
        name, ended = helper
        said = " ".join(str(ended.message or "").split())
        said = f": {said}" if said else f"; see `kubectl logs {pod.metadata.name} -c {name}`"
        return f"job {job.name} did not start: container {name} exited with code {ended.exit_code}{said}"
    terminated = _terminated(pod)
    if terminated is not None and terminated.exit_code not in (None, 0):
        detail = f" ({terminated.reason})" if terminated.reason not in (None, "Error") else ""
        return f"job {job.name} exited with code {terminated.exit_code}{detail}; see its log above"
    phase = getattr(pod.status, "phase", None) or "unknown"
    return f"job {job.name} did not succeed (pod phase {phase}); see its log above"


def explain_local_failure(job: JobSpec, config: PlatformConfig, result: LocalResult) -> str:
    """The same one-line explanation for a run of the local runner."""
    if result.reason == "OOMKilled":
        return _out_of_memory(job, config)
    if result.reason == "DeadlineExceeded":
        return _deadline_exceeded(job)
    if result.reason == "ArtifactsTooLarge":
        return result.detail
    return f"job {job.name} exited with code {result.exit_code}; see its log above"
