"""How fast the real kube-scheduler binds 1,000 mixed-flavor job pods on the simulated nodes.

Starts its own control plane (etcd, kube-apiserver, controller-manager, scheduler; kwok
stands in for the kubelets and container runtime), creates 1,000 pods from the platform's pod
builder at once (992 CPU and RAM flavors, 8 single-GPU pods, all kept running so every pod
holds its resources) and times from the first create until every pod has a node.

Prints exactly one line on stdout:  cluster_bind: pods=1000 seconds=… pods_per_s=…
(progress goes to stderr).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client

from tests.cluster.jobpods import job_pod
from tests.harness.controlplane import ControlPlane
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import KEEP_RUNNING, create_pods, list_pods, wait_for

NAMESPACE = "bench"
# Eight single-GPU pods fill the two 4-GPU nodes exactly; the rest must fit the CPU and
# high-memory nodes at once (see tests/data/cluster/nodes.yaml).
MIX = {"gpu-1x-24gb": 8, "cpu-2gb": 400, "cpu-4gb": 300, "cpu-16gb": 200, "ram-64gb": 92}


def main() -> int:
    pods = [
        job_pod(flavor, f"{flavor}-{i}", annotations={KEEP_RUNNING: "true"})
        for flavor, count in MIX.items()
        for i in range(count)
    ]
    random.Random(1000).shuffle(pods)
    with ControlPlane() as plane:
        api_client = plane.api_client()
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": NAMESPACE, "labels": RESTRICTED_LABELS}})
        wait_for(
            lambda: core.list_namespaced_service_account(NAMESPACE).items,
            timeout=30,
            what="default service account",
        )
        started = time.monotonic()
        create_pods(api_client, NAMESPACE, pods)
        submitted = time.monotonic() - started

        def all_bound() -> bool:
            listed = list_pods(api_client, NAMESPACE)
            return len(listed) == len(pods) and all(p["spec"].get("nodeName") for p in listed)

        wait_for(all_bound, timeout=600, what=f"{len(pods)} pods bound", interval=0.2)
        seconds = time.monotonic() - started
        api_client.close()
    print(f"cluster_bind: submitted {len(pods)} pods in {submitted:.1f} s", file=sys.stderr)
    print(
        f"cluster_bind: pods={len(pods)} seconds={seconds:.1f} pods_per_s={len(pods) / seconds:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
