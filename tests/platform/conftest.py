"""The installed release of the platform tests: one for this package, on the real node."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness.controlplane import ControlPlane
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore
from tests.platform.release import Release, install, uninstall


@pytest.fixture(scope="package")
def platform_release(
    control_plane: ControlPlane, real_node: RealNode, kube_client: Any, object_store: ObjectStore
) -> Iterator[Release]:
    """The chart installed with the images `make images` built, every pod on the real node,
    task logs written to the real object store;
    uninstalled when the package's tests are done (its components would only load the
    machine for the tests after them), with its namespaces and volume."""
    from kubernetes import client

    core, apps = client.CoreV1Api(kube_client), client.AppsV1Api(kube_client)
    release = install(control_plane, real_node, core, apps, object_store)
    try:
        yield release
    finally:
        uninstall(release, core)
