"""Services and cluster DNS on the real node: what the platform's own components need in-cluster.

kube-proxy (from the pinned Kubernetes build) programs Service virtual IPs with iptables inside
the node's namespace, and CoreDNS (pinned, from the Go module proxy) answers for the cluster's
names at the node's address and for nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness.network import REAL_NODE_TAINT_KEY
from tests.harness.node import NODE_LABELS, RealNode
from tests.node import podrun

pytestmark = pytest.mark.node


def _pod(
    name: str, command: list[str], labels: dict[str, str] | None = None, token: bool = False
) -> dict[str, Any]:
    """A plain pod on the real node that meets Pod Security `restricted`."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": token,
            "nodeSelector": NODE_LABELS,
            "tolerations": [{"key": REAL_NODE_TAINT_KEY, "operator": "Exists"}],
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "base",
                    "image": podrun.JOB_IMAGE,
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "64Mi"},
                    },
                }
            ],
        },
    }


def _run(core_v1: Any, namespace: str, pod: dict[str, Any]) -> tuple[str, str]:
    core_v1.create_namespaced_pod(namespace, pod)
    result = podrun.watch(core_v1, pod["metadata"]["name"], namespace, timeout=120)
    return result.phase, podrun.pod_log(core_v1, pod["metadata"]["name"], namespace)


API_FROM_POD = """
import json, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
token = open(f"{sa}/token").read()
request = urllib.request.Request("https://kubernetes.default.svc/version", headers={"Authorization": f"Bearer {token}"})
print("server", json.load(urllib.request.urlopen(request, context=context, timeout=10))["gitVersion"])
"""


def test_pod_reaches_the_api_server_by_the_kubernetes_service_name(
    real_node: RealNode, core_v1: Any, restricted_namespace: str
) -> None:
    """A pod resolves kubernetes.default.svc (CoreDNS), connects to its ClusterIP (kube-proxy)
    and reaches the API server on the host's loopback (the relay in the node's namespace),
    verifying its certificate with the service account's CA."""
    phase, log = _run(
        core_v1,
        restricted_namespace,
        _pod("api-client", ["python", "-c", API_FROM_POD], token=True),
    )
    assert phase == "Succeeded", log
    assert "server v1.34.4" in log


def test_pod_reaches_another_pod_through_a_service(
    real_node: RealNode, core_v1: Any, restricted_namespace: str
) -> None:
    """A Service's name and virtual IP lead to the pod behind it."""
    server = _pod(
        "web", ["python", "-m", "http.server", "8080", "--directory", "/etc"], labels={"app": "web"}
    )
    core_v1.create_namespaced_pod(restricted_namespace, server)
    podrun.watch(core_v1, "web", restricted_namespace, until=("Running",))
    core_v1.create_namespaced_service(
        restricted_namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    fetch = (
        "import time, urllib.request\n"
        "for attempt in range(30):\n"
        "    try:\n"
        f"        body = urllib.request.urlopen('http://web.{restricted_namespace}.svc/os-release', timeout=3).read()\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(1)\n"
        "print(body.decode().splitlines()[0])\n"
    )
    phase, log = _run(core_v1, restricted_namespace, _pod("client", ["python", "-c", fetch]))
    assert phase == "Succeeded", log
    assert log.startswith('PRETTY_NAME="Debian GNU/Linux 12')


def test_names_outside_the_cluster_do_not_resolve_and_nothing_routes_off_the_machine(
    real_node: RealNode, core_v1: Any, restricted_namespace: str
) -> None:
    """The network rule of these machines, from inside a pod: an outside name gets NXDOMAIN
    from the cluster DNS, and an outside address has no route."""
    probe = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443)\n"
        "    print('resolved')\n"
        "except socket.gaierror as exc:\n"
        "    print('no such name:', exc.errno == socket.EAI_NONAME)\n"
        "s = socket.socket()\n"
        "s.settimeout(3)\n"
        "try:\n"
        "    s.connect(('203.0.113.1', 80))\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print('unreachable:', exc.__class__.__name__)\n"
    )
    phase, log = _run(core_v1, restricted_namespace, _pod("outside", ["python", "-c", probe]))
    assert phase == "Succeeded", log
    lines = log.splitlines()
    assert "no such name: True" in lines
    assert "connected" not in lines
    assert any(line.startswith("unreachable: ") for line in lines), log
