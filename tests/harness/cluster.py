"""Start the mixed test cluster by hand (`make cluster`) and keep it up until Ctrl-C.

The API server, etcd, scheduler and controller-manager are the real programs; one real node
(kubelet + containerd, tests/harness/node.py) runs small job pods for real, with every image
`make images` built; kwok plays the simulated nodes (GPU, high-memory, large CPU).
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from tests.harness.controlplane import ControlPlane
from tests.harness.fixtures import NODE_CONFIG, RESTRICTED_LABELS
from tests.harness.node import RealNode, image_manifest
from tests.harness.tools import ToolMissingError, tool_path


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _jobs_namespaces(plane: ControlPlane) -> list[str]:
    """The jobs namespaces of the real-node config, created enforcing Pod Security restricted."""
    from kubernetes import client

    from airflow_platform.config import load_config

    names = sorted(load_config(NODE_CONFIG).jobs_namespaces().values())
    api_client = plane.api_client()
    try:
        core = client.CoreV1Api(api_client)
        for name in names:
            core.create_namespace({"metadata": {"name": name, "labels": RESTRICTED_LABELS}})
    finally:
        api_client.close()
    return names


def main() -> int:
    # SIGTERM and SIGHUP (a supervisor, a closed terminal) take the same clean path as Ctrl-C;
    # SIGINT is set explicitly because a shell starting us in the background ignores it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    plane = ControlPlane()
    node: RealNode | None = None
    try:
        try:
            plane.start()
            node = RealNode(plane, images=sorted(set(image_manifest()) - {"pause"}))
            node.start()
        except ToolMissingError as err:
            print(f"cluster: {err}", file=sys.stderr)
            return 1
        namespaces = _jobs_namespaces(plane)
        kubectl = tool_path("kubectl")
        print(f"kubeconfig: {plane.kubeconfig}")
        print(f"export KUBECONFIG={plane.kubeconfig}")
        print(f"nodes: {', '.join([*plane.node_names, node.name])} ({node.name} is real)")
        print(f"images: {' '.join(node.image_refs())}")
        print(f"jobs namespaces: {', '.join(namespaces)}")
        print(
            "try: AIRFLOW_PLATFORM_CONFIG=tests/data/node/platform.yaml .venv/bin/airflow-platform "
            f"render tests/data/node/jobs/vision/hello.yaml | {kubectl} apply -f -"
        )
        print("Ctrl-C stops the cluster.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the cluster", file=sys.stderr)
    finally:
        if node is not None:
            node.stop()
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
