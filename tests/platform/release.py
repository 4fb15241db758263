"""The chart installed for real: every component a pod on the real node (tests/harness/node.py).

`install()` puts the release's images on the node, gives the embedded PostgreSQL a local
volume there, runs `helm install` (tests/data/platform/values.yaml's `scheduling` keeps every
pod on the real node) and waits until every component is Ready; `Release.api()` opens a port-forward (through the API server and the
kubelet) to the installed api-server. `uninstall()` undoes all of it.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.chart.render import CHART_DIR, run_helm
from tests.harness.controlplane import ControlPlane, free_port
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import wait_for
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore
from tests.harness.tools import REPO_ROOT, tool_path

VALUES = REPO_ROOT / "tests" / "data" / "platform" / "values.yaml"
RELEASE = "platform"
FULLNAME = f"{RELEASE}-airflow-platform"
IMAGES = ("airflow", "postgresql", "statsd-exporter", "job-python")
STORAGE_CLASS = "airflow-platform-test-local"
READY_TIMEOUT = 900
LOGS_SECRET = "task-logs-store"
LOGS_PREFIX = "task-logs"
ARTIFACTS_SECRET = "artifacts-store"
ARTIFACTS_PREFIX = "artifacts"


@dataclass
class Release:
    """An installed release on the real node."""

    plane: ControlPlane
    node: RealNode
    namespace: str
    jobs_namespace: str
    ready_seconds: float = 0.0
    _forwards: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return self.plane.env

    def helm(self, *args: str, timeout: float = 600) -> str:
        return run_helm(*args, env=self.env, timeout=timeout)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(tool_path("kubectl")), *args],
            capture_output=True,
            text=True,
            env=self.env,
            check=check,
        )

    def team_namespace(self, team: str) -> str:
        return f"{self.jobs_namespace}-{team}"

    def secret(self, name: str, key: str) -> str:
        out = self.kubectl("get", "secret", name, "-n", self.namespace, "-o", "json").stdout
        import base64

        return base64.b64decode(json.loads(out)["data"][key]).decode()

    def ui_password(self, user: str = "admin") -> str:
        passwords: dict[str, str] = json.loads(
            self.secret(f"{FULLNAME}-ui-passwords", "passwords.json")
        )
        return passwords[user]

    def api_url(self) -> str:
        """A loopback URL of the installed api-server (a kubectl port-forward, kept open)."""
        return self.forward(f"{FULLNAME}-api-server", 8080)

    def forward(self, service: str, service_port: int) -> str:
        """A loopback URL of `service_port` of the release's `service` (a kubectl
        port-forward, kept open until `close_forwards`)."""
        port = free_port()
        forward = subprocess.Popen(
            [
                str(tool_path("kubectl")),
                "port-forward",
                "-n",
                self.namespace,
                f"service/{service}",
                f"{port}:{service_port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        self._forwards.append(forward)

        def listening() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=60, what=f"the port-forward to {service}")
        return f"http://127.0.0.1:{port}"

    def close_forwards(self) -> None:
        for forward in self._forwards:
            forward.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                forward.wait(timeout=10)
        self._forwards.clear()


def _local_volume(core: Any, node: RealNode) -> str:
    """A local PersistentVolume on the real node for the embedded PostgreSQL's claim."""
    name = f"airflow-platform-test-{secrets.token_hex(3)}"
    path = node.workdir / "volumes" / name
    path.mkdir(parents=True)
    core.create_persistent_volume(
        {
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": STORAGE_CLASS,
                "local": {"path": str(path)},
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/hostname",
                                        "operator": "In",
                                        "values": [node.name],
                                    }
                                ]
                            }
                        ]
                    }
                },
            },
        }
    )
    return name


def _workloads_ready(apps: Any, namespace: str) -> bool:
    workloads = [
        *apps.list_namespaced_deployment(namespace).items,
        *apps.list_namespaced_stateful_set(namespace).items,
    ]
    return bool(workloads) and all(
        (w.status.ready_replicas or 0) >= (w.spec.replicas or 0) for w in workloads
    )


def _logs_secret(core: Any, namespace: str, connection: str) -> None:
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": LOGS_SECRET}, "stringData": {"connection": connection}},
    )


def install(
    plane: ControlPlane, node: RealNode, core: Any, apps: Any, store: ObjectStore, *extra: str
) -> Release:
    """`helm install` of the chart with tests/data/platform/values.yaml, task logs going to
    `store` (reached by pods through one relayed port of the node); returns once every
    Deployment and StatefulSet of the release is Ready."""
    node.import_images(IMAGES)
    namespace = f"platform-{secrets.token_hex(2)}"
    core.create_namespace({"metadata": {"name": namespace, "labels": dict(RESTRICTED_LABELS)}})
    release = Release(plane, node, namespace, f"{namespace}-jobs")
    _local_volume(core, node)
    s3_port = int(store.endpoint.rsplit(":", 1)[1])
    connection = store.airflow_connection(endpoint=f"http://{node.expose(s3_port)}")
    _logs_secret(core, namespace, connection)
    started = time.monotonic()
    try:
        release.helm(
            "install", RELEASE, str(CHART_DIR), "--namespace", namespace, "-f", str(VALUES),
            "--set", f"platform.policy.jobs_namespace={release.jobs_namespace}",
            "--set", f"logs.remote.baseFolder=s3://{store.bucket}/{LOGS_PREFIX}",
            "--set", f"logs.remote.connectionSecretName={LOGS_SECRET}",
            "--set", f"platform.artifacts.endpoint=http://{node.expose(s3_port)}",
            "--set", f"platform.artifacts.bucket={store.bucket}",
            "--set", f"platform.artifacts.prefix={ARTIFACTS_PREFIX}",
            "--set", f"platform.artifacts.credentials_secret={ARTIFACTS_SECRET}",
            "--timeout", "900s", *extra,
        )  # fmt: skip
        # The workers' and teams' namespaces are the chart's own: their Secrets can only follow.
        _logs_secret(core, release.jobs_namespace, connection)
        for team in ("vision", "nlp"):
            core.create_namespaced_secret(
                release.team_namespace(team),
                {
                    "metadata": {"name": ARTIFACTS_SECRET},
                    "stringData": {
                        "access_key_id": store.access_key,
                        "secret_access_key": store.secret_key,
                    },
                },
            )
        wait_for(
            lambda: _workloads_ready(apps, namespace),
            timeout=READY_TIMEOUT,
            what=f"every component of the release in {namespace} Ready",
            interval=2,
        )
    except Exception as exc:
        raise RuntimeError(f"{exc}\n{diagnose(release)}") from None
    release.ready_seconds = time.monotonic() - started
    return release


def diagnose(release: Release) -> str:
    """What the release's pods are doing, and the last log lines of every container of the
    ones that are not Ready: the text a failed install or test prints."""
    lines = [
        release.kubectl("get", "pods", "-o", "wide", "-n", release.namespace, check=False).stdout
    ]
    out = release.kubectl("get", "pods", "-n", release.namespace, "-o", "json", check=False).stdout
    for pod in json.loads(out or '{"items": []}')["items"]:
        statuses = pod["status"].get("containerStatuses", []) + pod["status"].get(
            "initContainerStatuses", []
        )
        if statuses and all(s.get("ready") for s in statuses):
            continue
        for status in statuses:
            logs = release.kubectl(
                "logs", "-n", release.namespace, pod["metadata"]["name"], "-c", status["name"],
                "--tail=40", check=False,
            )  # fmt: skip
            lines.append(
                f"--- {pod['metadata']['name']}/{status['name']}:\n{logs.stdout}{logs.stderr}"
            )
    return "\n".join(lines)


def uninstall(release: Release, core: Any) -> None:
    """`helm uninstall`, the namespaces and the volume removed."""
    release.close_forwards()
    with contextlib.suppress(Exception):
        release.helm("uninstall", RELEASE, "--namespace", release.namespace, "--wait")
    for pvc in core.list_namespaced_persistent_volume_claim(release.namespace).items:
        core.delete_namespaced_persistent_volume_claim(pvc.metadata.name, release.namespace)
    for pv in core.list_persistent_volume().items:
        if pv.spec.storage_class_name == STORAGE_CLASS:
            core.delete_persistent_volume(pv.metadata.name)
    namespaces = [
        n.metadata.name
        for n in core.list_namespace().items
        if re.fullmatch(rf"{release.namespace}(-jobs(-.*)?)?", n.metadata.name)
    ]
    for name in namespaces:
        core.delete_collection_namespaced_pod(name, grace_period_seconds=0)
        with contextlib.suppress(Exception):
            core.delete_namespace(name)


def release_objects(release: Release) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of every object of the release left in its namespaces."""
    kinds = "all,configmap,secret,serviceaccount,role,rolebinding,networkpolicy,pvc,job,cronjob"
    found = []
    for name in (release.namespace, release.jobs_namespace):
        out = release.kubectl("get", kinds, "-n", name, "-o", "json", check=False).stdout
        for item in json.loads(out or '{"items": []}')["items"]:
            metadata = item["metadata"]
            # Kubernetes' own objects, and the logs Secret the test itself made before install.
            if metadata["name"] in ("default", "kube-root-ca.crt", LOGS_SECRET):
                continue
            found.append((item["kind"], name, metadata["name"]))
    return found


def write_job(folder: Path, name: str, script: str, **fields: Any) -> Path:
    """A job spec of team vision (its folder `folder/jobs/vision/`) for the real node."""
    import yaml

    job = {
        "resource_flavor": "node-256mb",
        "docker_image": "registry.internal/airflow-platform/job-python:0.1.0",
        "execution_time": "3 minutes",
        "execution_script": script,
        **fields,
    }
    path = folder / "jobs" / "vision" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"job": job}))
    return path
