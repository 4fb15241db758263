"""pytest fixtures for tests that need the real control plane (registered in tests/conftest.py).

`control_plane` starts one control plane per test session, on first use only, so unit tests
never pay for it. A missing tool fails the test with the install command; it never skips.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.controlplane import ControlPlane
from tests.harness.kube import wait_for
from tests.harness.kueue import Kueue
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore, seaweedfs
from tests.harness.postgres import Postgres, PostgresMissingError, postgresql
from tests.harness.tools import REPO_ROOT, ToolMissingError

# The platform config of the real-node tests: small flavors that select the real node.
NODE_CONFIG = REPO_ROOT / "tests" / "data" / "node" / "platform.yaml"

RESTRICTED_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver, controller-manager, scheduler and kwok nodes on loopback."""
    plane = ControlPlane()
    try:
        plane.start()
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kueue(control_plane: ControlPlane) -> Iterator[Kueue]:
    """The real Kueue controller manager (pod integration, jobs namespaces only) on the
    session's control plane, its webhooks registered; they are removed and it is stopped at
    the end."""
    controller = Kueue(control_plane)
    try:
        controller.start()
    except ToolMissingError as err:
        controller.stop()
        pytest.fail(str(err), pytrace=False)
    except BaseException:
        controller.stop()
        raise
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def real_node(control_plane: ControlPlane) -> Iterator[RealNode]:
    """One real node (containerd + kubelet + CNI bridge in a network namespace of its own)
    joined to the session's control plane, with the job images imported; it is stopped, and
    everything it changed on the machine undone, at the end."""
    node = RealNode(control_plane)
    try:
        node.start()
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """A real SeaweedFS S3 store on loopback with one bucket, for the session."""
    try:
        with seaweedfs(tmp_path_factory.mktemp("objectstore")) as store:
            yield store
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL 15 on loopback for the session (tests/harness/postgres.py)."""
    try:
        with postgresql() as server:
            yield server
    except PostgresMissingError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def node_config(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real-node platform config, also as ``$AIRFLOW_PLATFORM_CONFIG`` for the test."""
    from airflow_platform.config import CONFIG_ENV, load_config

    monkeypatch.setenv(CONFIG_ENV, str(NODE_CONFIG))
    return load_config(NODE_CONFIG)


@pytest.fixture(scope="session")
def kube_client(control_plane: ControlPlane) -> Iterator[Any]:
    """A `kubernetes.client.ApiClient` for the session's control plane."""
    api_client = control_plane.api_client()
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture(scope="session")
def core_v1(kube_client: Any) -> Any:
    """`CoreV1Api` on the session's control plane."""
    from kubernetes import client

    return client.CoreV1Api(kube_client)


@pytest.fixture(scope="session")
def apps_v1(kube_client: Any) -> Any:
    """`AppsV1Api` on the session's control plane."""
    from kubernetes import client

    return client.AppsV1Api(kube_client)


@pytest.fixture
def restricted_namespace(core_v1: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace enforcing the Pod Security Standard `restricted`, removed afterwards."""
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    name = f"{base or 'test'}-{secrets.token_hex(3)}"
    core_v1.create_namespace(
        {
            "metadata": {
                "name": name,
                "labels": {"airflow-platform.test": "true", **RESTRICTED_LABELS},
            }
        }
    )
    # ServiceAccount admission refuses pods until the controller-manager made this account.
    wait_for(
        lambda: any(
            sa.metadata.name == "default"
            for sa in core_v1.list_namespaced_service_account(name).items
        ),
        timeout=30,
        what=f"default service account in {name}",
    )
    try:
        yield name
    finally:
        delete_namespace(core_v1, name)


def delete_namespace(core_v1: Any, name: str) -> None:
    """Remove a test namespace; its pods go at once so the next test finds the nodes free."""
    # Grace period 0 removes pods from the API immediately, as no kubelet would confirm the
    # kill; waiting for the namespace controller instead would let GPU pods of one test hold
    # the GPUs that the next test asks for.
    core_v1.delete_collection_namespaced_pod(name, grace_period_seconds=0)
    wait_for(
        lambda: not core_v1.list_namespaced_pod(name).items,
        timeout=30,
        what=f"pods of {name} deleted",
    )
    core_v1.delete_namespace(name)
