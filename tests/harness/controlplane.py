"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, all built from the pinned sources by `scripts/install-tools.sh`.

kwok stands in for the kubelets and the container runtime of the simulated nodes (there is no
runtime on these machines); every other part is the real program. Each process runs in its
own session with its output in a log file, and `stop()` ends them in reverse order by PID.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.harness import pki, tools
from tests.harness.network import NODE_IP

DATA_DIR = tools.REPO_ROOT / "tests" / "data" / "cluster"
NODES_FILE = DATA_DIR / "nodes.yaml"
STAGES_FILE = DATA_DIR / "kwok-stages.yaml"
SERVICE_CIDR = "10.0.0.0/24"
# kwok hands out pod IPs from this range; a /12 leaves room for far more than the bench's pods.
POD_CIDR = "10.128.0.1/12"
KEEP_ENV = "AIRFLOW_PLATFORM_KEEP_CLUSTER"
ADMIN_TOKEN_USER = "admin"
# The stages kwok ships that we use unchanged; our own pod stages come from STAGES_FILE.
KWOK_STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-delete.yaml",
)
_PR_SET_PDEATHSIG = 1
# In start order; stop() goes the other way.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
ETCD_DIR_PREFIX = "airflow-platform-etcd-"
OWNER_FILE = "owner.pid"


class ControlPlaneError(RuntimeError):
    """A component failed to start or become ready; the message carries its log's tail."""


def free_port() -> int:
    """A loopback port nothing listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Runs in the child before exec: if the harness is killed outright (SIGKILL, OOM), the
    # kernel still ends its components, so no etcd or apiserver outlives a crashed test run.
    # SIGKILL rather than SIGTERM: all components die at once then, and a gracefully stopping
    # apiserver whose etcd is already gone would hang on.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Component:
    """One process of the control plane."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            # Its own session, so its process group is its PID: this reaches the component
            # and anything it forked, and nothing else on the machine.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        # A component that exited early may still have left children in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class ControlPlane:
    """Start with `start()` (or `with ControlPlane() as cp:`); `stop()` always cleans up."""

    nodes_file: Path = NODES_FILE
    verbose: bool = True
    workdir: Path = field(init=False)
    etcd_dir: Path = field(init=False)
    kubeconfig: Path = field(init=False)
    server: str = field(init=False, default="")
    token: str = field(init=False, default="")
    startup_seconds: float = field(init=False, default=0.0)
    components: list[Component] = field(init=False, default_factory=list)
    node_names: list[str] = field(init=False, default_factory=list)
    _ports: dict[str, int] = field(init=False, default_factory=dict)
    _stopped: bool = field(init=False, default=False)

    # ----------------------------------------------------------------- public interface

    @property
    def egress_socket(self) -> Path:
        """Where the API server sends its "cluster" traffic (to kubelets, pods, services): a
        real node's relay listens here (tests/harness/netproxy.py); without one, such calls
        fail at once, as they always have for the simulated nodes."""
        return self.workdir / "egress.sock"

    @property
    def env(self) -> dict[str, str]:
        """The environment for a subprocess (kubectl, helm) to talk to this cluster."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        return env

    def api_client(self) -> Any:
        """A fresh `kubernetes.client.ApiClient` for this cluster."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ControlPlane:
        """Start every component and return once the nodes are Ready and pods can schedule."""
        binaries = {name: tools.tool_path(name) for name in COMPONENTS}
        stage_dir = tools.kwok_stage_dir()
        began = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix="airflow-platform-cluster-"))
        shm = Path("/dev/shm")
        tmpfs = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
        _sweep_dead_etcd_dirs(tmpfs or Path(tempfile.gettempdir()))
        self.etcd_dir = Path(tempfile.mkdtemp(prefix=ETCD_DIR_PREFIX, dir=tmpfs))
        (self.etcd_dir / OWNER_FILE).write_text(str(os.getpid()))
        self.log_dir().mkdir()
        atexit.register(self.stop)
        try:
            self._write_files(stage_dir)
            self._launch(binaries)
        except BaseException:
            self._say(f"control plane failed to start; logs kept in {self.log_dir()}")
            self.stop(keep_logs=True)
            raise
        self.startup_seconds = time.monotonic() - began
        self._say(
            f"control plane ready in {self.startup_seconds:.1f} s "
            f"({len(self.node_names)} nodes; logs in {self.log_dir()})"
        )
        return self

    def stop(self, keep_logs: bool = False) -> None:
        """Stop components in reverse start order and remove the data (idempotent)."""
        if self._stopped or not hasattr(self, "workdir"):
            return
        self._stopped = True
        for component in reversed(self.components):
            component.stop()
        shutil.rmtree(self.etcd_dir, ignore_errors=True)
        if keep_logs or os.environ.get(KEEP_ENV):
            self._say(f"control plane stopped; logs kept in {self.log_dir()}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    # ----------------------------------------------------------------------- internals

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"[control-plane] {message}", file=sys.stderr, flush=True)

    def _path(self, name: str) -> Path:
        return self.workdir / name

    def _write_files(self, stage_dir: Path) -> None:
        for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler"):
            self._ports[name] = free_port()
        self.server = f"https://127.0.0.1:{self._ports['apiserver']}"
        self.token = secrets.token_hex(24)
        _write_pki(self.workdir)
        self._path("tokens.csv").write_text(
            f'{self.token},{ADMIN_TOKEN_USER},{ADMIN_TOKEN_USER},"system:masters"\n'
        )
        self.kubeconfig = self._path("kubeconfig")
        ca_data = self._path("ca.crt").read_bytes()
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "airflow-platform-test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority-data": _b64(ca_data),
                    },
                }
            ],
            "users": [{"name": ADMIN_TOKEN_USER, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "airflow-platform-test",
                    "context": {"cluster": "airflow-platform-test", "user": ADMIN_TOKEN_USER},
                }
            ],
            "current-context": "airflow-platform-test",
        }
        self.kubeconfig.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
        self.kubeconfig.chmod(0o600)
        scheduler_config = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            # The default client limit (50 QPS) would make the scheduler, not its placement
            # logic, the bottleneck of the 200- and 1,000-pod runs on a test machine.
            "clientConnection": {"kubeconfig": str(self.kubeconfig), "qps": 500, "burst": 1000},
            "leaderElection": {"leaderElect": False},
        }
        self._path("scheduler.yaml").write_text(yaml.safe_dump(scheduler_config))
        egress = {
            "apiVersion": "apiserver.k8s.io/v1beta1",
            "kind": "EgressSelectorConfiguration",
            "egressSelections": [
                {
                    "name": "cluster",
                    "connection": {
                        "proxyProtocol": "HTTPConnect",
                        "transport": {"uds": {"udsName": str(self.egress_socket)}},
                    },
                }
            ],
        }
        self._path("egress.yaml").write_text(yaml.safe_dump(egress))
        # Only stages here: a KwokConfiguration document would replace kwok's defaults
        # (its parallelism settings come out as zero), so its options go on the command line.
        documents = [(stage_dir / stage).read_text() for stage in KWOK_STAGES]
        documents.append(STAGES_FILE.read_text())
        self._path("kwok.yaml").write_text("\n---\n".join(documents))

    def _components(self, binaries: dict[str, Path]) -> dict[str, Component]:
        p = self._ports
        etcd_url = f"http://127.0.0.1:{p['etcd']}"
        peer_url = f"http://127.0.0.1:{p['etcd-peer']}"
        argv: dict[str, list[str]] = {
            "etcd": [
                "--name=default",
                f"--data-dir={self.etcd_dir / 'data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            "kube-apiserver": [
                f"--etcd-servers={etcd_url}",
                f"--secure-port={p['apiserver']}",
                "--bind-address=127.0.0.1",
                # The `kubernetes` Service's endpoint: the real node's address, where a relay
                # inside its namespace leads to this loopback port (tests/harness/netproxy.py).
                f"--advertise-address={NODE_IP}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                f"--tls-cert-file={self._path('apiserver.crt')}",
                f"--tls-private-key-file={self._path('apiserver.key')}",
                f"--client-ca-file={self._path('ca.crt')}",
                f"--token-auth-file={self._path('tokens.csv')}",
                # Simulated nodes carry their name as Hostname, which does not resolve.
                "--kubelet-preferred-address-types=InternalIP",
                # For logs, exec and port-forward on the real node: its kubelet trusts this CA.
                f"--kubelet-client-certificate={self._path('kubelet-client.crt')}",
                f"--kubelet-client-key={self._path('kubelet-client.key')}",
                f"--egress-selector-config-file={self._path('egress.yaml')}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self._path('sa.key')}",
                f"--service-account-signing-key-file={self._path('sa.key')}",
                # So that a privileged pod reaches PodSecurity admission and is refused there,
                # as on a real cluster, rather than by the apiserver's own switch.
                "--allow-privileged=true",
                f"--cert-dir={self._path('apiserver-certs')}",
                "--profiling=false",
            ],
            "kube-controller-manager": [
                f"--kubeconfig={self.kubeconfig}",
                "--leader-elect=false",
                f"--service-account-private-key-file={self._path('sa.key')}",
                f"--root-ca-file={self._path('ca.crt')}",
                f"--secure-port={p['controller-manager']}",
                "--bind-address=127.0.0.1",
                "--kube-api-qps=200",
                "--kube-api-burst=400",
                "--profiling=false",
            ],
            "kube-scheduler": [
                f"--config={self._path('scheduler.yaml')}",
                f"--secure-port={p['scheduler']}",
                "--bind-address=127.0.0.1",
                "--profiling=false",
            ],
            "kwok": [
                f"--kubeconfig={self.kubeconfig}",
                f"--config={self._path('kwok.yaml')}",
                # Only the simulated nodes: a real node's kubelet speaks for itself.
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--cidr={POD_CIDR}",
                # kwok serves no kubelet endpoint here: its log streaming never ends a follow
                # request, which would hang a KubernetesPodOperator; a log request fails fast.
                "--node-ip=127.0.0.1",
                # kwok leaves its lease controller off unless this is given; without leases
                # the node lifecycle controller marks every node NotReady after ~50 s.
                "--node-lease-duration-seconds=40",
            ],
        }
        return {
            name: Component(name, [str(binaries[name]), *args], self.log_dir() / f"{name}.log")
            for name, args in argv.items()
        }

    def _launch(self, binaries: dict[str, Path]) -> None:
        comps = self._components(binaries)
        t0 = time.monotonic()

        def start(name: str) -> Component:
            component = comps[name]
            self.components.append(component)
            component.start(self.workdir)
            return component

        etcd = start("etcd")
        _wait_for(
            etcd, "healthy", lambda: _http_ok(f"http://127.0.0.1:{self._ports['etcd']}/health")
        )
        self._say(f"etcd ready after {time.monotonic() - t0:.1f} s")
        apiserver = start("kube-apiserver")
        ca = ssl.create_default_context(cafile=str(self._path("ca.crt")))
        _wait_for(
            apiserver,
            "ready",
            lambda: _http_ok(f"{self.server}/readyz", context=ca, token=self.token),
            timeout=90,
        )
        self._say(f"kube-apiserver ready after {time.monotonic() - t0:.1f} s")
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            start(name)
        self.node_names = create_nodes(self, self.nodes_file)
        insecure = ssl._create_unverified_context()
        for name, port in (
            ("kube-controller-manager", self._ports["controller-manager"]),
            ("kube-scheduler", self._ports["scheduler"]),
        ):
            _wait_for(
                comps[name],
                "healthy",
                lambda port=port: _http_ok(f"https://127.0.0.1:{port}/healthz", context=insecure),
            )
        self._say(f"controller-manager and scheduler healthy after {time.monotonic() - t0:.1f} s")
        _wait_for(comps["kwok"], "nodes Ready and schedulable", self._nodes_ready, timeout=90)
        _wait_for(
            comps["kube-controller-manager"],
            "default service account",
            lambda: self._get_ok("/api/v1/namespaces/default/serviceaccounts/default"),
        )

    def _request(self, path: str) -> Any:
        ca = ssl.create_default_context(cafile=str(self._path("ca.crt")))
        req = urllib.request.Request(
            self.server + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(req, context=ca, timeout=5) as resp:
            return json.load(resp)

    def _get_ok(self, path: str) -> bool:
        try:
            self._request(path)
        except (urllib.error.URLError, OSError):
            return False
        return True

    def _nodes_ready(self) -> bool:
        try:
            nodes = self._request("/api/v1/nodes")["items"]
        except (urllib.error.URLError, OSError):
            return False
        ready = set()
        for node in nodes:
            conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
            taints = {t["key"] for t in node["spec"].get("taints", [])}
            # The node lifecycle controller puts these on until it has seen the node Ready;
            # until it takes them off, nothing would schedule.
            blocked = taints & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
            if conditions.get("Ready") == "True" and not blocked:
                ready.add(node["metadata"]["name"])
        return ready >= set(self.node_names)


def load_nodes(path: Path = NODES_FILE) -> list[dict[str, Any]]:
    """The Node objects described by the nodes data file."""
    data = yaml.safe_load(path.read_text())
    nodes = []
    for spec in data["nodes"]:
        name = spec["name"]
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
            **spec.get("labels", {}),
        }
        capacity = {k: str(v) for k, v in spec["capacity"].items()}
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": labels,
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
                "spec": {"taints": spec.get("taints", [])},
                # Both addresses up front: kwok's node-initialize stage rewrites the list, and
                # drops it, for a node that lacks either.
                "status": {
                    "capacity": capacity,
                    "allocatable": capacity,
                    "addresses": [
                        {"type": "InternalIP", "address": "127.0.0.1"},
                        {"type": "Hostname", "address": name},
                    ],
                },
            }
        )
    return nodes


def create_nodes(plane: ControlPlane, path: Path) -> list[str]:
    """Register the simulated nodes; kwok then plays their kubelets."""
    from kubernetes import client

    api_client = plane.api_client()
    try:
        core = client.CoreV1Api(api_client)
        names = []
        for node in load_nodes(path):
            core.create_node(node)
            names.append(node["metadata"]["name"])
        return names
    finally:
        api_client.close()


def _sweep_dead_etcd_dirs(parent: Path) -> None:
    """Remove etcd data left on tmpfs by harnesses that were killed before they could clean up
    (tmpfs is memory); directories of harnesses still running are left alone."""
    for directory in parent.glob(f"{ETCD_DIR_PREFIX}*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _wait_for(
    component: Component, what: str, check: Callable[[], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not component.running():
            raise ControlPlaneError(
                f"{component.name} exited before it was {what}; "
                f"last lines of {component.log_path}:\n{component.log_tail()}"
            )
        if check():
            return
        time.sleep(0.1)
    raise ControlPlaneError(
        f"{component.name} not {what} after {timeout:.0f} s; "
        f"last lines of {component.log_path}:\n{component.log_tail()}"
    )


def _http_ok(url: str, context: ssl.SSLContext | None = None, token: str | None = None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), context=context, timeout=2
        ) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_pki(directory: Path) -> None:
    """A CA, a serving certificate for the apiserver, its client certificate for kubelets, and
    the service-account signing key."""
    ca = pki.new_ca("airflow-platform-test-ca")
    apiserver = pki.server_cert(
        ca,
        "kube-apiserver",
        dns=[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
        # The real node's kubelet reaches the API server at NODE_IP (tests/harness/node.py).
        ips=["127.0.0.1", NODE_IP, str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))],
    )
    kubelet_client = pki.client_cert(
        ca,
        x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-kubelet-client"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            ]
        ),
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    files = {
        "ca.crt": ca.cert_pem,
        "apiserver.crt": apiserver.cert_pem,
        "apiserver.key": apiserver.key_pem,
        "kubelet-client.crt": kubelet_client.cert_pem,
        "kubelet-client.key": kubelet_client.key_pem,
        "sa.key": sa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        path = directory / name
        path.write_bytes(data)
        path.chmod(0o600)
