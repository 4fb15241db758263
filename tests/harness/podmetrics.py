"""The pod metrics an SRE already scrapes, against the test control plane and real node.

- **kube-state-metrics**, built from the module proxy at the version pinned in
  `scripts/versions.env` (`make tools`), reads the test API server with the admin kubeconfig
  and serves `/metrics` on a loopback port. It exposes the platform's pod labels through its
  label allow-list (`kube_pod_labels{label_airflow_platform_team=...}`), as the chart's docs
  tell an SRE to run it (docs/observability.md).
- **cAdvisor** is the real node's kubelet (`/metrics/cadvisor`). The kubelet serves inside the
  node's network namespace, where Prometheus on the host cannot dial; Prometheus scrapes it
  through the API server's node proxy (`/api/v1/nodes/<node>/proxy/metrics/cadvisor`, the
  form of Prometheus's own Kubernetes example) with the bearer token of a ServiceAccount
  bound to a ClusterRole for `nodes/proxy` and `nodes/metrics`. `scrape_configs()` gives
  Prometheus both jobs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_platform.metrics.catalogue import KSM_POD_LABELS
from tests.harness import tools
from tests.harness.controlplane import Component, ControlPlane, free_port
from tests.harness.kube import wait_for

SCRAPER = "airflow-platform-test-node-metrics"
SCRAPER_NAMESPACE = "kube-system"


@dataclass
class PodMetrics:
    """A running kube-state-metrics and the token Prometheus scrapes the kubelet with."""

    ksm_target: str
    api_server: str
    ca_file: Path
    token_file: Path

    def scrape_configs(self, node_name: str, interval: str = "1s") -> list[dict[str, Any]]:
        """Prometheus scrape jobs for kube-state-metrics and the node's cAdvisor."""
        host = self.api_server.removeprefix("https://")
        return [
            {
                "job_name": "kube-state-metrics",
                "scrape_interval": interval,
                "honor_labels": True,
                "static_configs": [{"targets": [self.ksm_target]}],
            },
            {
                "job_name": "kubelet-cadvisor",
                "scrape_interval": interval,
                "scheme": "https",
                "metrics_path": f"/api/v1/nodes/{node_name}/proxy/metrics/cadvisor",
                "authorization": {"credentials_file": str(self.token_file)},
                "tls_config": {"ca_file": str(self.ca_file)},
                "static_configs": [{"targets": [host], "labels": {"node": node_name}}],
            },
        ]


def _scraper_token(plane: ControlPlane, workdir: Path) -> Path:
    """A ServiceAccount token allowed to read node metrics (made once per control plane)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api_client = plane.api_client()
    try:
        core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
        role = {
            "metadata": {"name": SCRAPER},
            "rules": [
                {"apiGroups": [""], "resources": ["nodes/metrics", "nodes/proxy"], "verbs": ["get"]}
            ],
        }
        binding = {
            "metadata": {"name": SCRAPER},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": SCRAPER,
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": SCRAPER, "namespace": SCRAPER_NAMESPACE}
            ],
        }
        for create, body in (
            (
                lambda b: core.create_namespaced_service_account(SCRAPER_NAMESPACE, b),
                {"metadata": {"name": SCRAPER}},
            ),
            (rbac.create_cluster_role, role),
            (rbac.create_cluster_role_binding, binding),
        ):
            try:
                create(body)
            except ApiException as err:
                if err.status != 409:  # a second harness of the session made it already
                    raise
        token = core.create_namespaced_service_account_token(
            SCRAPER, SCRAPER_NAMESPACE, {"spec": {"expirationSeconds": 3600}}
        ).status.token
    finally:
        api_client.close()
    path = workdir / "scraper.token"
    path.write_text(token)
    path.chmod(0o600)
    return path


@contextmanager
def pod_metrics(plane: ControlPlane) -> Iterator[PodMetrics]:
    """Start kube-state-metrics (pods only, the platform's labels allowed) on the control
    plane; it is stopped on exit."""
    binary = tools.tool_path("kube-state-metrics")
    workdir = Path(tempfile.mkdtemp(prefix="airflow-platform-ksm-"))
    port, telemetry = free_port(), free_port()
    component = Component(
        "kube-state-metrics",
        [
            str(binary),
            f"--kubeconfig={plane.kubeconfig}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--telemetry-host=127.0.0.1",
            f"--telemetry-port={telemetry}",
            "--resources=pods",
            "--metric-labels-allowlist=pods=[" + ",".join(KSM_POD_LABELS) + "]",
        ],
        workdir / "kube-state-metrics.log",
    )
    component.start(workdir)
    try:
        import urllib.request

        def ready() -> bool:
            if not component.running():
                raise RuntimeError(f"kube-state-metrics exited:\n{component.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for(ready, timeout=60, what="kube-state-metrics /healthz")
        yield PodMetrics(
            ksm_target=f"127.0.0.1:{port}",
            api_server=plane.server,
            ca_file=plane.workdir / "ca.crt",
            token_file=_scraper_token(plane, workdir),
        )
    finally:
        component.stop()
        shutil.rmtree(workdir, ignore_errors=True)
