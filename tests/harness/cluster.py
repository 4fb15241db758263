"""Start a test control plane by hand (`make cluster`) and keep it up until Ctrl-C.

kwok stands in for the kubelets and the container runtime of the simulated nodes; the
API server, etcd, scheduler and controller-manager are the real programs.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from tests.harness.controlplane import ControlPlane
from tests.harness.tools import ToolMissingError


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # SIGTERM and SIGHUP (a supervisor, a closed terminal) take the same clean path as Ctrl-C;
    # SIGINT is set explicitly because a shell starting us in the background ignores it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    plane = ControlPlane()
    try:
        plane.start()
    except ToolMissingError as err:
        print(f"cluster: {err}", file=sys.stderr)
        return 1
    try:
        print(f"kubeconfig: {plane.kubeconfig}")
        print(f"export KUBECONFIG={plane.kubeconfig}")
        print(f"nodes: {', '.join(plane.node_names)}")
        print("Ctrl-C stops the control plane.", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the control plane", file=sys.stderr)
    finally:
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
