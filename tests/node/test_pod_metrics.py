"""Pod facts from the signals Kubernetes already emits, measured on the real node.

A real Prometheus scrapes the real node's kubelet (cAdvisor, through the API server's node
proxy) and a real kube-state-metrics (tests/harness/podmetrics.py) while the platform's own
job pods (``build_pod``) run there: one holds a known amount of memory for longer than the
kubelet's housekeeping interval (cAdvisor samples a container every 10-15 s), one goes over
its flavor and is OOM-killed. Nothing is stood in for.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.config import PlatformConfig
from airflow_platform.metrics import catalogue
from airflow_platform.pods import CONTAINER_NAME, RunContext, build_pod
from tests.harness.controlplane import ControlPlane
from tests.harness.fixtures import RESTRICTED_LABELS, delete_namespace
from tests.harness.kube import ensure_namespace
from tests.harness.kube import wait_for as kube_wait_for
from tests.harness.node import RealNode
from tests.harness.podmetrics import pod_metrics
from tests.node import podrun
from tests.observability.servers import Server, prometheus, query, wait_for

pytestmark = [pytest.mark.node, pytest.mark.observability]

HELD_BYTES = 300 * 2**20
# Touches every page (a bare bytearray is calloc'd zero pages, never resident), then holds
# them past two cAdvisor housekeeping rounds.
HOLD = (
    "import time; x = bytearray({size}); x[::4096] = b'x' * len(x[::4096]); "
    "print('allocated', flush=True); time.sleep({seconds})"
)
DAG = "measured-pipeline"


@dataclass
class Measured:
    """The Prometheus that watched the runs, and the pods it watched."""

    prometheus: Server
    namespace: str
    held: Any
    oom: Any


def _run(core_v1: Any, config: PlatformConfig, namespace: str, name: str, **fields: Any) -> str:
    spec = podrun.job(name, **fields)
    context = RunContext(namespace=namespace, dag_id=DAG, task_id=name)
    pod = build_pod(spec, config, context)
    core_v1.create_namespaced_pod(namespace, pod)
    return str(pod.metadata.name)


@pytest.fixture(scope="module")
def measured(
    control_plane: ControlPlane,
    real_node: RealNode,
    core_v1: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Measured]:
    """Prometheus scraping kube-state-metrics and the node's cAdvisor every second, while a job
    holding 300 MiB (flavor node-512mb) and one over its 64Mi (node-64mb) run to their end."""
    from airflow_platform.config import load_config
    from tests.harness.fixtures import NODE_CONFIG

    config = load_config(NODE_CONFIG)
    namespace = f"pod-metrics-{secrets.token_hex(3)}"
    ensure_namespace(core_v1, namespace, RESTRICTED_LABELS)
    # ServiceAccount admission refuses pods until the controller-manager made this account.
    kube_wait_for(
        lambda: core_v1.list_namespaced_service_account(namespace).items,
        timeout=30,
        what=f"the default service account of {namespace}",
    )
    workdir: Path = tmp_path_factory.mktemp("pod-metrics")
    try:
        with (
            pod_metrics(control_plane) as metrics,
            prometheus(workdir, scrape_configs=metrics.scrape_configs(real_node.name)) as prom,
        ):
            held = _run(
                core_v1,
                config,
                namespace,
                "holds-300mib",
                script=["python3", "-c", HOLD.format(size=HELD_BYTES, seconds=35)],
                flavor="node-512mb",
            )
            oom = _run(
                core_v1,
                config,
                namespace,
                "over-its-flavor",
                script=["python3", "-c", HOLD.format(size=200 * 2**20, seconds=5)],
                flavor="node-64mb",
            )
            runs = [podrun.watch(core_v1, name, namespace) for name in (held, oom)]
            assert runs[0].phase == "Succeeded", podrun.log(core_v1, runs[0])
            assert runs[1].phase == "Failed"
            yield Measured(prom, namespace, runs[0].pod, runs[1].pod)
    finally:
        delete_namespace(core_v1, namespace)


def test_peak_memory_of_a_job_is_in_prometheus_within_ten_percent(measured: Measured) -> None:
    """cAdvisor's peak of the job container (cgroup v1 here: memory.max_usage_in_bytes; v2:
    memory.peak) is the 300 MiB the job held, within 10 % (the interpreter included)."""
    pod = measured.held.metadata.name
    expr = (
        f"max_over_time({catalogue.CONTAINER_MEMORY_PEAK}{{namespace={measured.namespace!r},"
        f"pod={pod!r},container={CONTAINER_NAME!r}}}[10m])"
    )
    peak = float(wait_for(measured.prometheus, expr.replace("'", '"'))[0]["value"][1])
    print(f"\ncAdvisor peak {peak:.0f} bytes for {HELD_BYTES} held")
    assert abs(peak - HELD_BYTES) <= 0.10 * HELD_BYTES


def test_kube_state_metrics_gives_the_termination_reason_and_the_platform_labels(
    measured: Measured,
) -> None:
    """The OOM-killed job's container is `OOMKilled`, the other `Completed`; both pods carry
    the platform's team, job, flavor, dag and task labels on `kube_pod_labels`."""
    prom, namespace = measured.prometheus, measured.namespace
    for pod, reason in ((measured.oom, "OOMKilled"), (measured.held, "Completed")):
        name = pod.metadata.name
        wait_for(
            prom,
            f'{catalogue.KSM_TERMINATED_REASON}{{namespace="{namespace}",pod="{name}",'
            f'container="{CONTAINER_NAME}",reason="{reason}"}} == 1',
        )
    labels = {
        s["metric"]["pod"]: s["metric"]
        for s in query(prom, f'{catalogue.KSM_POD_LABELS_SERIES}{{namespace="{namespace}"}}')
    }
    held = labels[measured.held.metadata.name]
    keys = catalogue.POD_LABEL_KEYS
    assert {field: held[catalogue.ksm_label(keys[field])] for field in keys} == {
        "team": "vision",
        "job": "holds-300mib",
        "flavor": "node-512mb",
        "dag": DAG,
        "task": "holds-300mib",
    }


def test_usage_recommends_the_flavor_that_fits_what_the_node_measured(measured: Measured) -> None:
    """`airflow-platform usage` on what the kubelet and kube-state-metrics reported: the job
    that held 300 MiB shows that peak (within 10 %) and keeps node-512mb, the smallest
    real-node flavor above 300 MiB × 1.2; its average CPU is well under its 0.5 cores."""
    from tests.harness.fixtures import NODE_CONFIG

    cli = str(Path(sys.executable).parent / "airflow-platform")
    window = ["--since", "10m", "--config", str(NODE_CONFIG), "--format", "json"]
    result = subprocess.run(
        [cli, "usage", "--prometheus", measured.prometheus.url, *window],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    row = {r["job_name"]: r for r in json.loads(result.stdout)}["holds-300mib"]
    assert (row["team"], row["flavor"]) == ("vision", "node-512mb")
    assert abs(row["peak_memory_bytes"] - HELD_BYTES) <= 0.10 * HELD_BYTES, row
    assert (row["recommended_flavor"], row["verdict"]) == ("node-512mb", "keep"), row
    assert row["cpu_cores"] is not None, row
    assert 0 < row["cpu_cores"] < 0.5, row
