"""The real Kueue controller manager against the test control plane.

Kueue is built from the module proxy at the version pinned in `scripts/versions.env` (`make
tools`); its CRDs and webhook configurations come from the same module's source in the Go
module cache, so nothing of Kueue is copied into this repository. The harness does what
Kueue's kustomize install and cert-manager would do on a real cluster:

* applies the CRDs (served version v1beta2, the one the platform renders);
* makes a CA and a serving certificate for 127.0.0.1 (Kueue's internal cert management is
  off: it would write a Secret and patch a Service-backed webhook the API server cannot reach);
* gives Kueue the metrics certificate it insists on reading from the fixed path
  `/etc/kueue/metrics/certs` when internal cert management is off: it runs in a private
  mount namespace where an overlay on `/etc` adds only that folder, so nothing on the machine
  changes (this needs root, as the real node's harness does);
* writes a Kueue `Configuration` with only the pod integration, for the jobs namespaces only
  (namespaces labelled `airflow-platform/team`, as the chart labels them), fair sharing on;
* registers Kueue's own webhooks and its pod webhooks with a loopback `url` and the CA, once
  Kueue serves them; `stop()` removes them first, so no dead webhook outlives Kueue;
* serves Kueue's Prometheus metrics on a loopback port, over HTTPS with that certificate and
  behind the API server's authentication and authorization, as Kueue always does;
  `metrics_scrape()` makes the ServiceAccount, token and RBAC a scraper needs.
"""

from __future__ import annotations

import shutil
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.harness import pki, tools
from tests.harness.controlplane import Component, ControlPlane, ControlPlaneError, free_port
from tests.harness.kube import ensure_namespace, wait_for

KUEUE_NAMESPACE = "kueue-system"
# The chart labels every jobs namespace with its team (templates/jobs/namespaces.yaml); Kueue
# manages pods there only, so no other pod of the session waits on its webhook.
TEAM_LABEL = "airflow-platform/team"
JOBS_NAMESPACE_SELECTOR = {"matchExpressions": [{"key": TEAM_LABEL, "operator": "Exists"}]}
WEBHOOK_PREFIX = "airflow-platform-test-"
# The ServiceAccount, ClusterRole and ClusterRoleBinding of `Kueue.metrics_scrape()`.
SCRAPER_NAME = "airflow-platform-test-kueue-metrics-reader"
# The webhooks kept from Kueue's manifests: its own API's and the pod integration's. The
# others (batch Jobs, JobSets, Ray, ...) belong to integrations this Kueue does not run; with
# failurePolicy Fail they would refuse every such object.
_KEPT_PATHS = ("kueue-x-k8s-io", "--v1-pod")


def kueue_configuration(
    webhook_port: int, health_port: int, metrics_port: int, cert_dir: Path
) -> dict[str, Any]:
    """Kueue's `Configuration` for the tests (the same settings docs/kueue.md gives)."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": KUEUE_NAMESPACE,
        "health": {"healthProbeBindAddress": f"127.0.0.1:{health_port}"},
        # Always HTTPS behind authn/authz (cmd/kueue/main.go sets SecureServing and
        # WithAuthenticationAndAuthorization whatever the Configuration says); loopback only.
        "metrics": {"bindAddress": f"127.0.0.1:{metrics_port}"},
        "webhook": {"host": "127.0.0.1", "port": webhook_port, "certDir": str(cert_dir)},
        # The visibility API server reads its certificate from a fixed /visibility/ and needs
        # an APIService in front of it; queue positions are read from Workloads instead.
        "featureGates": {"VisibilityOnDemand": False},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "clientConnection": {"qps": 200, "burst": 400},
        "manageJobsWithoutQueueName": False,
        "managedJobsNamespaceSelector": JOBS_NAMESPACE_SELECTOR,
        "integrations": {"frameworks": ["pod"]},
        # Present means on (v1beta2): admission and preemption across the cohort by share.
        "fairSharing": {"preemptionStrategies": ["LessThanOrEqualToFinalShare"]},
    }


@dataclass(frozen=True)
class MetricsScrape:
    """What a Prometheus needs to scrape Kueue: the address it serves `https://.../metrics`
    on, the CA that signed its certificate (for 127.0.0.1), and a file holding a bearer token
    that may `get` /metrics."""

    target: str
    ca_file: Path
    token_file: Path


@dataclass
class Kueue:
    """Start with `start()`; `stop()` removes its webhooks (and a scraper's RBAC, if one was
    made) and ends the process."""

    plane: ControlPlane
    workdir: Path = field(init=False)
    webhook_port: int = field(init=False, default=0)
    health_port: int = field(init=False, default=0)
    metrics_port: int = field(init=False, default=0)
    ca_file: Path = field(init=False)
    startup_seconds: float = field(init=False, default=0.0)
    component: Component | None = field(init=False, default=None)
    _webhooks: list[tuple[str, str]] = field(init=False, default_factory=list)
    _scrape: MetricsScrape | None = field(init=False, default=None)

    def start(self) -> Kueue:
        binary = tools.tool_path("kueue")
        crd_dir = tools.kueue_crd_dir()
        manifests = tools.kueue_webhook_manifests()
        began = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix="kueue-", dir=self.plane.workdir))
        cert_dir = self.workdir / "certs"
        ca_pem = _write_serving_cert(cert_dir)
        self.ca_file = cert_dir / "ca.crt"
        self.ca_file.write_bytes(ca_pem)
        etc_upper, etc_work = self.workdir / "etc-upper", self.workdir / "etc-work"
        metrics_certs = etc_upper / "kueue" / "metrics" / "certs"
        metrics_certs.mkdir(parents=True)
        etc_work.mkdir()
        for name in ("tls.crt", "tls.key"):
            (metrics_certs / name).write_bytes((cert_dir / name).read_bytes())
        self.webhook_port, self.health_port = free_port(), free_port()
        self.metrics_port = free_port()
        config = kueue_configuration(
            self.webhook_port, self.health_port, self.metrics_port, cert_dir
        )
        config_path = self.workdir / "config.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        api_client = self.plane.api_client()
        try:
            self._apply_crds(api_client, crd_dir)
            from kubernetes import client

            ensure_namespace(client.CoreV1Api(api_client), KUEUE_NAMESPACE)
            self.component = Component(
                "kueue",
                [
                    *_in_private_etc(etc_upper, etc_work),
                    str(binary),
                    f"--config={config_path}",
                    f"--kubeconfig={self.plane.kubeconfig}",
                    "--zap-log-level=info",
                ],
                self.plane.log_dir() / "kueue.log",
            )
            self.plane.components.append(self.component)
            self.component.start(self.workdir)
            self._wait_ready()
            self._register_webhooks(api_client, manifests, ca_pem)
        finally:
            api_client.close()
        self.startup_seconds = time.monotonic() - began
        print(
            f"[kueue] Kueue {tools.versions()['KUEUE_VERSION']} ready in "
            f"{self.startup_seconds:.1f} s (webhooks on 127.0.0.1:{self.webhook_port}; "
            f"log {self.plane.log_dir() / 'kueue.log'})",
            file=sys.stderr,
            flush=True,
        )
        return self

    def metrics_scrape(self) -> MetricsScrape:
        """The URL, CA and token to scrape Kueue's metrics with (made on the first call).

        Kueue's metrics server asks the API server about every scrape: a TokenReview of the
        bearer token, then a SubjectAccessReview for `get` on the non-resource URL /metrics. So
        this makes a ServiceAccount in Kueue's namespace, binds it to Kueue's own metrics-reader
        ClusterRole (from the module's config/components/rbac, as Kueue's install does) and
        asks the TokenRequest API for a token of it.
        """
        if self._scrape is not None:
            return self._scrape
        from kubernetes import client

        role = yaml.safe_load((tools.kueue_rbac_dir() / "metrics_reader_role.yaml").read_text())
        name = SCRAPER_NAME
        role["metadata"] = {"name": name}
        api_client = self.plane.api_client()
        try:
            core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
            core.create_namespaced_service_account(KUEUE_NAMESPACE, {"metadata": {"name": name}})
            rbac.create_cluster_role(role)
            rbac.create_cluster_role_binding(
                {
                    "metadata": {"name": name},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": name,
                    },
                    "subjects": [
                        {"kind": "ServiceAccount", "name": name, "namespace": KUEUE_NAMESPACE}
                    ],
                }
            )
            token = core.create_namespaced_service_account_token(
                name, KUEUE_NAMESPACE, {"spec": {"expirationSeconds": 3600}}
            ).status.token
        finally:
            api_client.close()
        token_file = self.workdir / "scraper.token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        self._scrape = MetricsScrape(
            target=f"127.0.0.1:{self.metrics_port}",
            ca_file=self.ca_file,
            token_file=token_file,
        )
        return self._scrape

    def stop(self) -> None:
        """Remove the webhooks (so the API server stops calling them) and the scraper's RBAC,
        then end Kueue."""
        if self._scrape is not None:
            self._remove_scraper()
        if self._webhooks:
            from kubernetes import client

            api_client = self.plane.api_client()
            try:
                admission = client.AdmissionregistrationV1Api(api_client)
                for kind, name in self._webhooks:
                    delete = (
                        admission.delete_mutating_webhook_configuration
                        if kind == "MutatingWebhookConfiguration"
                        else admission.delete_validating_webhook_configuration
                    )
                    try:
                        delete(name)
                    except client.ApiException as err:
                        if err.status != 404:
                            raise
            finally:
                api_client.close()
            self._webhooks = []
        if self.component is not None:
            self.component.stop()

    def log_tail(self, lines: int = 40) -> str:
        return self.component.log_tail(lines) if self.component else "(not started)"

    # ----------------------------------------------------------------------- internals

    def _remove_scraper(self) -> None:
        from kubernetes import client

        api_client = self.plane.api_client()
        try:
            rbac = client.RbacAuthorizationV1Api(api_client)
            core = client.CoreV1Api(api_client)
            for delete, args in (
                (rbac.delete_cluster_role_binding, (SCRAPER_NAME,)),
                (rbac.delete_cluster_role, (SCRAPER_NAME,)),
                (core.delete_namespaced_service_account, (SCRAPER_NAME, KUEUE_NAMESPACE)),
            ):
                try:
                    delete(*args)
                except client.ApiException as err:
                    if err.status != 404:
                        raise
        finally:
            api_client.close()
        self._scrape = None

    def _apply_crds(self, api_client: Any, crd_dir: Path) -> None:
        from kubernetes import client

        api = client.ApiextensionsV1Api(api_client)
        names = []
        for path in sorted(crd_dir.glob("*.yaml")):
            crd = yaml.safe_load(path.read_text())
            names.append(crd["metadata"]["name"])
            try:
                api.create_custom_resource_definition(crd)
            except client.ApiException as err:
                if err.status != 409:  # a session that started Kueue before in this plane
                    raise

        def established() -> bool:
            for name in names:
                conditions = api.read_custom_resource_definition(name).status.conditions or []
                if not any(c.type == "Established" and c.status == "True" for c in conditions):
                    return False
            return True

        wait_for(established, timeout=60, what="Kueue's CRDs established")

    def _wait_ready(self) -> None:
        assert self.component is not None
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not self.component.running():
                raise ControlPlaneError(
                    f"kueue exited before it was ready; last lines of its log:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise ControlPlaneError(f"kueue not ready after 120 s; last lines:\n{self.log_tail()}")

    def _register_webhooks(self, api_client: Any, manifests: Path, ca_pem: bytes) -> None:
        from kubernetes import client

        admission = client.AdmissionregistrationV1Api(api_client)
        import base64

        ca_bundle = base64.b64encode(ca_pem).decode()
        for document in yaml.safe_load_all(manifests.read_text()):
            if not document:
                continue
            kept = []
            for hook in document.get("webhooks", []):
                path = hook["clientConfig"]["service"]["path"]
                if not any(part in path for part in _KEPT_PATHS):
                    continue
                hook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{self.webhook_port}{path}",
                    "caBundle": ca_bundle,
                }
                if path.endswith("--v1-pod"):
                    hook["namespaceSelector"] = JOBS_NAMESPACE_SELECTOR
                kept.append(hook)
            name = WEBHOOK_PREFIX + document["metadata"]["name"]
            body = {**document, "metadata": {"name": name}, "webhooks": kept}
            kind = document["kind"]
            create = (
                admission.create_mutating_webhook_configuration
                if kind == "MutatingWebhookConfiguration"
                else admission.create_validating_webhook_configuration
            )
            create(body)
            self._webhooks.append((kind, name))
        # The API server picks new webhook configurations up asynchronously: wait until a
        # ResourceFlavor that Kueue's validating webhook refuses is refused.
        custom = client.CustomObjectsApi(api_client)
        bad = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": "airflow-platform-webhook-probe"},
            "spec": {"nodeLabels": {"bad key!": "x"}},
        }

        def refused() -> bool:
            try:
                custom.create_cluster_custom_object(
                    "kueue.x-k8s.io", "v1beta2", "resourceflavors", bad
                )
            except client.ApiException as err:
                return "webhook" in (err.body or "") or err.status in (400, 422)
            custom.delete_cluster_custom_object(
                "kueue.x-k8s.io", "v1beta2", "resourceflavors", bad["metadata"]["name"]
            )
            return False

        wait_for(refused, timeout=30, what="Kueue's webhooks called by the API server")


def _in_private_etc(upper: Path, work: Path) -> list[str]:
    """The command prefix that runs a program with ``upper`` laid over /etc, in a mount
    namespace of its own (`exec`, so the program keeps the PID the harness stops)."""
    script = (
        'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc '
        '&& shift 2 && exec "$@"'
    )
    unshare = shutil.which("unshare")
    if unshare is None:
        raise tools.ToolMissingError("unshare (util-linux) is needed to start Kueue")
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh",
            str(upper), str(work)]  # fmt: skip


def _write_serving_cert(cert_dir: Path) -> bytes:
    """A CA and a certificate for 127.0.0.1 in Kueue's default file names; returns the CA."""
    cert_dir.mkdir(parents=True)
    ca = pki.new_ca("airflow-platform-kueue-ca")
    webhook = pki.server_cert(ca, "kueue-webhook", dns=["localhost"], ips=["127.0.0.1"])
    ca_pem = ca.cert_pem
    (cert_dir / "tls.crt").write_bytes(webhook.cert_pem)
    key_path = cert_dir / "tls.key"
    key_path.write_bytes(webhook.key_pem)
    key_path.chmod(0o600)
    # ssl.create_default_context would refuse a bad CA here rather than at the first webhook.
    ssl.create_default_context(cadata=ca_pem.decode())
    return ca_pem
