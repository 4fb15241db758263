"""What queueing through the real Kueue costs: job pods admitted per second, against the same
pods bound without Kueue, on the simulated nodes.

Starts its own control plane and the pinned Kueue (tests/harness/kueue.py), applies what the
chart renders with `kueue.enabled` for a team whose quota fits every pod (so Kueue's admission,
not the quota, is what is timed), creates 200 cpu-2gb job pods from the platform's pod builder
at once (kept running) and times from the first create until every pod has a node. Then the
same 200 pods without the queue label, in a namespace Kueue does not manage.

Prints exactly one line on stdout:
  kueue_admit: jobs=200 admitted_per_s=… overhead_vs_no_kueue=…×
(progress goes to stderr).
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client

from airflow_platform.kueue import QUEUE_LABEL
from tests.harness.controlplane import ControlPlane
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import KEEP_RUNNING, create_pods, list_pods, wait_for
from tests.harness.kueue import Kueue
from tests.kueue.platform import install

JOBS = 200
VALUES: dict[str, Any] = {
    "kueue": {"enabled": True},
    "platform": {
        "teams": {"vision": {"quota": {"cpu": str(JOBS), "memory": f"{2 * JOBS}Gi"}}},
        "policy": {"jobs_namespace": "bench-jobs"},
    },
}
PLAIN_NAMESPACE = "bench-no-kueue"


def _time_until_bound(api_client: Any, namespace: str, pods: list[dict[str, Any]]) -> float:
    started = time.monotonic()
    create_pods(api_client, namespace, pods)

    def all_bound() -> bool:
        listed = list_pods(api_client, namespace)
        return len(listed) == len(pods) and all(p["spec"].get("nodeName") for p in listed)

    wait_for(all_bound, timeout=600, what=f"{len(pods)} pods bound in {namespace}", interval=0.2)
    return time.monotonic() - started


def main() -> int:
    with ControlPlane() as plane:
        kueue = Kueue(plane)
        try:
            kueue.start()
            with install(plane, VALUES, release="bench") as platform:
                namespace = platform.config.namespace_of("vision")
                pods = []
                for i in range(JOBS):
                    pod = platform.pod(_job(), f"task-{i:03d}")
                    pod["metadata"]["annotations"] = {KEEP_RUNNING: "true"}
                    pods.append(pod)
                queued = _time_until_bound(platform.api_client, namespace, pods)
                core = client.CoreV1Api(platform.api_client)
                core.create_namespace(
                    {"metadata": {"name": PLAIN_NAMESPACE, "labels": RESTRICTED_LABELS}}
                )
                account = platform.config.policy.service_account
                core.create_namespaced_service_account(
                    PLAIN_NAMESPACE, {"metadata": {"name": account}}
                )
                plain = []
                for pod in pods:
                    copied = copy.deepcopy(pod)
                    copied["metadata"]["labels"].pop(QUEUE_LABEL)
                    copied["metadata"]["namespace"] = PLAIN_NAMESPACE
                    plain.append(copied)
                direct = _time_until_bound(platform.api_client, PLAIN_NAMESPACE, plain)
                core.delete_collection_namespaced_pod(PLAIN_NAMESPACE, grace_period_seconds=0)
        finally:
            kueue.stop()
    print(
        f"kueue_admit: with Kueue {queued:.1f} s, without {direct:.1f} s for {JOBS} pods",
        file=sys.stderr,
    )
    print(
        f"kueue_admit: jobs={JOBS} admitted_per_s={JOBS / queued:.1f} "
        f"overhead_vs_no_kueue={queued / direct:.2f}×"
    )
    return 0


def _job() -> Any:
    from airflow_platform.spec.models import JobSpec

    return JobSpec(
        name="bench-admit",
        team="vision",
        resource_flavor="cpu-2gb",
        docker_image="registry.internal/tests/job:1.0",
        execution_time="10 minutes",
        execution_script="true",
    )


if __name__ == "__main__":
    sys.exit(main())
