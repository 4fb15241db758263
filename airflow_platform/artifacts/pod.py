"""The transfer containers the pod builder adds when the platform keeps artifacts in a store.

``artifacts-fetch`` (an init container, only when upstream tasks kept something) fills the
input folder; ``artifacts-keep`` (a native sidecar) keeps the output folder after the job.
Both run the platform's own code (``airflow_platform.artifacts.podside``) in the platform
image, at a fixed size the admission policy knows, with the store's credentials from its
Secret; the job's own container gets neither the credentials nor write access to its inputs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import (
    V1Container,
    V1EnvVar,
    V1EnvVarSource,
    V1ExecAction,
    V1Pod,
    V1Probe,
    V1ResourceRequirements,
    V1SecretKeySelector,
    V1SecurityContext,
    V1VolumeMount,
)

from airflow_platform.config import ArtifactStore, PlatformConfig, parse_memory

FETCH_CONTAINER = "artifacts-fetch"
KEEP_CONTAINER = "artifacts-keep"
# The fixed size of the transfer containers (the admission policy admits them at it): boto3
# and its part buffers (airflow_platform.artifacts.store) fit well inside it.
SIDE_RESOURCES = V1ResourceRequirements(
    requests={"cpu": "50m", "memory": "192Mi"}, limits={"memory": "192Mi"}
)
MODULE = "airflow_platform.artifacts.podside"
READY_FILE = ".artifacts-keep-ready"
# How long the keeper may take to start (its Python and boto3 imports) before the kubelet
# restarts it: generous, for a node under load; the probe itself is one exec a second.
KEEPER_START_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Transfer:
    """Which try's outputs a pod keeps, and the upstream outputs it fetches (task → prefix)."""

    prefix: str
    task: str
    upstream: Mapping[str, str]
    sweeps: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """Each upstream sweep's combinations (index and values), for its ``matrix.json``."""
    result_keys: Mapping[str, str] = field(default_factory=dict)
    """The keys (and types) of the result the task publishes, read by the keeper."""


def _credentials(store: ArtifactStore) -> list[V1EnvVar]:
    def secret(env: str, key: str) -> V1EnvVar:
        return V1EnvVar(
            name=env,
            value_from=V1EnvVarSource(
                secret_key_ref=V1SecretKeySelector(name=store.credentials_secret, key=key)
            ),
        )

    return [
        secret("AWS_ACCESS_KEY_ID", "access_key_id"),
        secret("AWS_SECRET_ACCESS_KEY", "secret_access_key"),
    ]


def _store_args(store: ArtifactStore) -> list[str]:
    return ["--endpoint", store.endpoint, "--bucket", store.bucket, "--region", store.region]


def add_transfer(
    pod: V1Pod,
    config: PlatformConfig,
    transfer: Transfer,
    outputs: Sequence[str] | None,
    volumes: Mapping[str, str],
    security_context: Callable[[], V1SecurityContext],
) -> None:
    """Adds the transfer containers to ``pod`` and lengthens its grace period by the time the
    sidecar has to keep the outputs. ``volumes`` are the pod's scratch volumes by name
    (``input``, ``output``, ``tmp`` among them) → their mount path."""
    store = config.artifacts
    assert store is not None
    assert store.image is not None
    cap = config.policy.max_task_artifacts

    def side(name: str, args: list[str], mounts: list[str], **extra: Any) -> V1Container:
        return V1Container(
            name=name,
            image=store.image,
            command=["python", "-m", MODULE, *args],
            env=[*_credentials(store), V1EnvVar(name="HOME", value=volumes["tmp"])],
            resources=SIDE_RESOURCES,
            security_context=security_context(),
            volume_mounts=[V1VolumeMount(name=m, mount_path=volumes[m]) for m in mounts],
            termination_message_policy="FallbackToLogsOnError",
            **extra,
        )

    containers = []
    if transfer.upstream:
        sources = [f"{task}={prefix}" for task, prefix in sorted(transfer.upstream.items())]
        sweeps = [
            arg
            for task, listed in sorted(transfer.sweeps.items())
            for arg in ("--matrix", f"{task}={json.dumps(list(listed), sort_keys=True)}")
        ]
        containers.append(
            side(
                FETCH_CONTAINER,
                ["fetch", *_store_args(store), "--into", volumes["input"], *sweeps, *sources],
                ["input", "tmp"],
            )
        )
    keep = [
        "keep",
        *_store_args(store),
        "--from",
        volumes["output"],
        "--to",
        transfer.prefix,
        "--task",
        transfer.task,
        "--cap",
        cap,
        "--cap-bytes",
        str(parse_memory(cap)),
    ]
    for glob in outputs or ():
        keep += ["--output", glob]
    for key, kind in sorted(transfer.result_keys.items()):
        keep += ["--result", f"{key}={kind}"]
    if transfer.result_keys:
        keep += ["--result-cap", str(config.policy.max_result_bytes)]
    ready = f"{volumes['tmp']}/{READY_FILE}"
    keep += ["--ready", ready]
    # The kubelet starts the job only once a native sidecar's startup probe has passed: a job
    # that ends at once then cannot end before the keeper listens for its SIGTERM (podside).
    started = V1Probe(
        _exec=V1ExecAction(command=["test", "-e", ready]),
        period_seconds=1,
        failure_threshold=KEEPER_START_SECONDS,
    )
    containers.append(
        side(
            KEEP_CONTAINER, keep, ["output", "tmp"], restart_policy="Always", startup_probe=started
        )
    )
    spec = pod.spec
    spec.init_containers = [*containers, *(spec.init_containers or [])]
    spec.termination_grace_period_seconds = (spec.termination_grace_period_seconds or 0) + int(
        store.upload_grace.total_seconds()
    )


def report(pod: Any, container: str) -> dict[str, Any] | None:
    """The JSON report a transfer container left as its termination message, if it ended."""
    for status in (pod.status.init_container_statuses or []) if pod and pod.status else []:
        if status.name != container:
            continue
        terminated = status.state.terminated if status.state else None
        if terminated is None and status.last_state is not None:
            terminated = status.last_state.terminated
        if terminated is None:
            return None
        try:
            data = json.loads(terminated.message or "")
        except ValueError:
            text = (terminated.message or "").strip().splitlines()
            detail = text[-1] if text else f"exit code {terminated.exit_code}"
            return {"error": f"{container} ended without a report: {detail}"}
        return data if isinstance(data, dict) else None
    return None


def problem(pod: Any) -> str | None:
    """Why the pod's artifacts were not fetched or kept, in one line; ``None`` if they were
    (or the pod moves none)."""
    for container in (FETCH_CONTAINER, KEEP_CONTAINER):
        data = report(pod, container)
        if data and "error" in data:
            return str(data["error"])
    return None
