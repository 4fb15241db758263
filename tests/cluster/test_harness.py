"""The control-plane harness itself: pinned versions, clean shutdown, and a missing tool
reported as a failure with the install command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.harness import tools
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import wait_for

pytestmark = pytest.mark.cluster


def test_cached_binaries_report_the_pinned_versions() -> None:
    """kube-apiserver, etcd and kwok in the cache are the versions scripts/versions.env pins."""
    pinned = tools.versions()
    apiserver = subprocess.run(
        [tools.tool_path("kube-apiserver"), "--version"], capture_output=True, text=True, check=True
    )
    assert apiserver.stdout.strip() == f"Kubernetes {pinned['KUBERNETES_VERSION']}"
    etcd = subprocess.run(
        [tools.tool_path("etcd"), "--version"], capture_output=True, text=True, check=True
    )
    assert f"etcd Version: {pinned['ETCD_VERSION'].removeprefix('v')}" in etcd.stdout


def test_running_api_server_reports_the_pinned_release(kube_client: Any) -> None:
    """The session's API server reports its real version, not v0.0.0-master, so helm's
    kubeVersion checks see a real Kubernetes."""
    info = client.VersionApi(kube_client).get_code()
    assert info.git_version == tools.versions()["KUBERNETES_VERSION"]


def test_control_plane_stops_every_process_it_started_and_removes_its_data() -> None:
    """A second, separate control plane starts, serves requests, and after stop() none of its
    processes is alive and its etcd data on tmpfs is gone."""
    plane = ControlPlane(verbose=False)
    plane.start()
    try:
        api_client = plane.api_client()
        nodes = client.CoreV1Api(api_client).list_node().items
        api_client.close()
        assert len(nodes) == len(plane.node_names) >= 6
        pids = [c.process.pid for c in plane.components if c.process]
    finally:
        plane.stop()
    assert len(pids) == 5
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    assert not alive, f"still running: {alive}"
    assert not plane.etcd_dir.exists()
    assert not plane.workdir.exists()


def test_missing_tool_fails_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With an empty tools cache the harness raises an error naming the install command,
    which the fixture turns into a test failure (never a skip)."""
    monkeypatch.setenv("AIRFLOW_PLATFORM_TOOLS", str(tmp_path))
    with pytest.raises(tools.ToolMissingError) as missing:
        ControlPlane(verbose=False).start()
    assert "make tools" in str(missing.value)
    assert "bash scripts/install-tools.sh" in str(missing.value)


def test_simulated_nodes_renew_their_leases_so_they_stay_ready(kube_client: Any) -> None:
    """Every simulated node has a lease that kwok renews, as a kubelet would; without it the
    node lifecycle controller would mark the nodes NotReady (and taint them) after ~50 s."""
    coordination = client.CoordinationV1Api(kube_client)
    core = client.CoreV1Api(kube_client)
    nodes = {n.metadata.name for n in core.list_node().items}

    def renewals() -> dict[str, Any]:
        leases = coordination.list_namespaced_lease("kube-node-lease").items
        return {lease.metadata.name: lease.spec.renew_time for lease in leases}

    first = renewals()
    assert set(first) >= nodes

    def all_renewed() -> bool:
        now = renewals()
        return all(now[n] > first[n] for n in nodes)

    wait_for(all_renewed, timeout=30, what="every node lease renewed", interval=1)
    for node in core.list_node().items:
        taints = {t.key for t in node.spec.taints or []}
        assert not taints & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
