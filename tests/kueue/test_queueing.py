"""Team quotas with the real Kueue on the simulated nodes: what the chart renders is accepted,
a burst runs within its team's quota and completes in full, another team's job is not stuck
behind it, and a job bigger than its team's quota is refused before it could wait forever."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from airflow_platform.kueue import is_waiting_for_quota, read_wait_message
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.models import JobSpec
from airflow_platform.validation import validate_data
from tests.chart.render import VALUES_DIR
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import KEEP_RUNNING, create_pods, list_pods, wait_for
from tests.harness.kueue import Kueue
from tests.kueue.platform import GROUP, VERSION, Platform, condition, install, is_gated

pytestmark = pytest.mark.kueue

IMAGE = "registry.internal/tests/job:1.0"
KUEUE_VALUES = VALUES_DIR / "kueue.yaml"
# Small quotas (cpu-2gb is 1 CPU and 2Gi: four fit vision's, which may not borrow; nlp borrows
# freely), 27 CPUs in the cohort, in namespaces of their own prefix so no other test's are
# touched.
QUEUE_VALUES: dict[str, Any] = {
    "kueue": {"enabled": True},
    "platform": {
        "teams": {
            "vision": {
                "quota": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "0"},
                "borrowing_limit": {"cpu": "0", "memory": "0"},
            },
            "nlp": {"quota": {"cpu": "2", "memory": "4Gi"}},
            "analytics": {"quota": {"cpu": "1", "memory": "2Gi"}},
            # GPU jobs: two GPUs, CPU and memory for two gpu-1x-24gb pods (8 CPUs and 48Gi
            # each) and a CPU job beside them, no borrowing.
            "research": {
                "quota": {"cpu": "20", "memory": "100Gi", "nvidia.com/gpu": "2"},
                "borrowing_limit": {"cpu": "0", "memory": "0", "nvidia.com/gpu": "0"},
            },
        },
        "flavors": {"gpu-1x-24gb": {"teams": ["vision", "nlp", "research"]}},
        "policy": {"jobs_namespace": "kq-jobs"},
    },
}


@pytest.fixture(scope="module")
def platform(kueue: Kueue, control_plane: ControlPlane) -> Iterator[Platform]:
    with install(control_plane, QUEUE_VALUES) as installed:
        yield installed


def _job(team: str, flavor: str = "cpu-2gb") -> JobSpec:
    return JobSpec(
        name=f"{team}-burst",
        team=team,
        resource_flavor=flavor,
        docker_image=IMAGE,
        execution_time="10 minutes",
        execution_script="python -c 'print(42)'",
    )


def _pods(
    platform: Platform, team: str, count: int, flavor: str = "cpu-2gb", **annotations: str
) -> list[dict[str, Any]]:
    pods = []
    for i in range(count):
        pod = platform.pod(_job(team, flavor), f"{flavor}-{i:02d}")
        pod["metadata"]["annotations"] = dict(annotations)
        pods.append(pod)
    return pods


def _active(pod: dict[str, Any]) -> bool:
    """Admitted and not finished: holding its share of the team's quota."""
    return not is_gated(pod) and pod["status"].get("phase") not in ("Succeeded", "Failed")


def test_the_charts_queues_for_several_teams_are_accepted_and_active(
    kueue: Kueue, control_plane: ControlPlane
) -> None:
    with install(control_plane, {}, values_files=[KUEUE_VALUES], release="several") as platform:
        for team in platform.config.teams:
            wait_for(
                lambda team=team: _queue_active(platform, team),
                timeout=30,
                what=f"ClusterQueue of {team} Active",
            )
            namespace = platform.config.namespace_of(team)
            local = platform.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, "localqueues", platform.config.kueue.local_queue
            )
            queue_name = platform.cluster_queue(team)["metadata"]["name"]
            assert local["spec"]["clusterQueue"] == queue_name


def _queue_active(platform: Platform, team: str) -> bool:
    active = condition(platform.cluster_queue(team), "Active") or {}
    return active.get("status") == "True"


def test_a_burst_of_40_jobs_runs_at_most_4_at_a_time_and_all_complete_once(
    platform: Platform,
) -> None:
    namespace = platform.config.namespace_of("vision")
    pods = _pods(platform, "vision", 40, **{"airflow-platform.test/run-duration": "2s"})
    assert {p["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] for p in pods} == {
        "airflow-platform"
    }
    began = time.monotonic()
    create_pods(platform.api_client, namespace, pods)
    most_at_once, seen_gated = 0, False
    deadline = time.monotonic() + 240
    while True:
        live = list_pods(platform.api_client, namespace)
        most_at_once = max(most_at_once, sum(1 for p in live if _active(p)))
        seen_gated = seen_gated or any(is_gated(p) for p in live)
        if len(live) == 40 and all(p["status"].get("phase") == "Succeeded" for p in live):
            break
        assert time.monotonic() < deadline, (
            f"{sum(p['status'].get('phase') == 'Succeeded' for p in live)} of 40 done in 240 s"
        )
        time.sleep(0.1)
    elapsed = time.monotonic() - began
    print(f"40 jobs, quota for 4: all done in {elapsed:.1f} s, at most {most_at_once} at once")
    assert seen_gated
    assert most_at_once <= 4
    # Ran more than one at a time (the quota, not something else, was the limit) ...
    assert most_at_once >= 2
    # ... and each once: the 40 pods are the ones created, none restarted or replaced.
    assert sorted(p["metadata"]["name"] for p in live) == sorted(
        p["metadata"]["name"] for p in pods
    )
    assert all(
        s["restartCount"] == 0 for p in live for s in p["status"].get("containerStatuses", [])
    )
    platform.delete_pods("vision")


def test_another_teams_job_is_admitted_while_the_first_teams_backlog_waits(
    platform: Platform, tmp_path: Path
) -> None:
    vision_ns, nlp_ns = (platform.config.namespace_of(t) for t in ("vision", "nlp"))
    create_pods(
        platform.api_client,
        vision_ns,
        _pods(platform, "vision", 12, **{KEEP_RUNNING: "true"}),
    )
    wait_for(
        lambda: sum(1 for p in list_pods(platform.api_client, vision_ns) if _active(p)) == 4,
        timeout=60,
        what="vision's quota full",
    )
    [nlp_pod] = _pods(platform, "nlp", 1)
    platform.core.create_namespaced_pod(nlp_ns, nlp_pod)
    name = nlp_pod["metadata"]["name"]
    wait_for(
        lambda: platform.core.read_namespaced_pod(name, nlp_ns).status.phase == "Succeeded",
        timeout=60,
        what="nlp's job admitted and finished",
    )
    vision = list_pods(platform.api_client, vision_ns)
    assert sum(1 for p in vision if is_gated(p)) == 8, "vision's backlog still waits"
    queue = platform.cluster_queue("vision")["status"]
    assert queue["pendingWorkloads"] == 8
    # The task log's line for one of the waiting pods, from the team's own namespace.
    waiting = next(p for p in vision if is_gated(p))
    assert is_waiting_for_quota(waiting)
    message = wait_for(
        lambda: _full_message(platform, waiting),
        timeout=30,
        what="vision's LocalQueue showing its usage",
    )
    print(message)
    # `airflow-platform queues` shows the same from the cluster of $KUBECONFIG.
    config_file = tmp_path / "platform.yaml"
    config_file.write_text(
        yaml.safe_dump(platform.config.model_dump(mode="json", exclude_none=True))
    )
    listed = subprocess.run(
        [
            str(Path(sys.executable).parent / "airflow-platform"),
            "queues",
            "--config",
            str(config_file),
        ],
        env={**platform.plane.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        "vision (kq-jobs-vision): quota cpu 4, memory 8Gi, nvidia.com/gpu 0; "
        "uses cpu 4, memory 8Gi, nvidia.com/gpu 0; 4 admitted, 8 waiting"
    ) in listed, listed
    ahead = int(
        re.fullmatch(r"waiting for quota in queue vision: (\d+) jobs? ahead; .*", message)[1]
    )
    assert 0 <= ahead <= 7
    platform.delete_pods("vision")
    platform.delete_pods("nlp")


def _admitted(platform: Platform, team: str) -> int:
    namespace = platform.config.namespace_of(team)
    return sum(
        1
        for p in list_pods(platform.api_client, namespace)
        if _active(p) and not p["metadata"].get("deletionTimestamp")
    )


def _borrowed_cpu(platform: Platform, team: str) -> str:
    for flavor in platform.cluster_queue(team).get("status", {}).get("flavorsUsage", []):
        for usage in flavor["resources"]:
            if usage["name"] == "cpu":
                return str(usage.get("borrowed", "0"))
    return "0"


def test_an_idle_teams_quota_is_borrowed_and_given_back_when_it_needs_it(
    platform: Platform,
) -> None:
    """nlp (2 CPUs of its own) runs 26 one-CPU jobs on what the others leave idle (1 of the
    cohort's 27 CPUs is left); when vision asks for its 4, Kueue takes them back from nlp's
    borrowed share."""
    nlp_ns, vision_ns = (platform.config.namespace_of(t) for t in ("nlp", "vision"))
    create_pods(platform.api_client, nlp_ns, _pods(platform, "nlp", 26, **{KEEP_RUNNING: "true"}))
    wait_for(lambda: _admitted(platform, "nlp") == 26, timeout=90, what="26 nlp jobs admitted")
    wait_for(
        lambda: _borrowed_cpu(platform, "nlp") == "24",
        timeout=30,
        what="nlp borrowing 24 CPUs",
    )
    create_pods(
        platform.api_client, vision_ns, _pods(platform, "vision", 4, **{KEEP_RUNNING: "true"})
    )
    wait_for(
        lambda: _admitted(platform, "vision") == 4,
        timeout=90,
        what="vision's 4 jobs admitted by reclaiming its lent quota",
    )
    wait_for(
        lambda: _admitted(platform, "nlp") <= 23,
        timeout=60,
        what="nlp's borrowing jobs preempted to give the CPUs back",
    )
    platform.delete_pods("vision")
    platform.delete_pods("nlp")


def test_gpu_jobs_queue_on_the_gpu_quota_while_the_teams_cpu_jobs_run(
    platform: Platform,
) -> None:
    """research has 2 GPUs and CPU for them: of 4 one-GPU jobs 2 run and 2 wait, for the GPU
    flavor's quota only; a CPU job of the team is admitted past them."""
    namespace = platform.config.namespace_of("research")
    gpu_pods = _pods(platform, "research", 4, "gpu-1x-24gb", **{KEEP_RUNNING: "true"})
    create_pods(platform.api_client, namespace, gpu_pods)
    wait_for(lambda: _admitted(platform, "research") == 2, timeout=60, what="2 GPU jobs admitted")
    time.sleep(3)  # Kueue had the time to admit more, were there quota
    live = list_pods(platform.api_client, namespace)
    assert sum(1 for p in live if is_gated(p)) == 2
    bound = [p for p in live if p["spec"].get("nodeName")]
    assert {p["spec"]["nodeName"] for p in bound} <= {"gpu-1", "gpu-2"}
    # Kueue put the GPU flavor's node labels on the admitted pods, beside the builder's affinity.
    assert all(p["spec"]["nodeSelector"]["nvidia.com/gpu.product"] == "NVIDIA-A10G" for p in bound)
    [cpu_pod] = _pods(platform, "research", 1, "cpu-2gb")
    platform.core.create_namespaced_pod(namespace, cpu_pod)
    name = cpu_pod["metadata"]["name"]
    wait_for(
        lambda: platform.core.read_namespaced_pod(name, namespace).status.phase == "Succeeded",
        timeout=60,
        what="research's CPU job admitted past its waiting GPU jobs",
    )
    assert sum(1 for p in list_pods(platform.api_client, namespace) if is_gated(p)) == 2
    platform.delete_pods("research")


def _full_message(platform: Platform, pod: dict[str, Any]) -> str:
    message = read_wait_message(platform.api_client, pod, platform.config)
    return message if message.endswith("vision uses 4 of 4 CPUs") else ""


def test_a_job_bigger_than_its_teams_whole_quota_is_refused_at_validation(
    platform: Platform,
) -> None:
    """ram-64gb (64Gi) is over vision's 8Gi: validation says so, naming the quota. Built
    anyway, Kueue would hold its pod gated for ever, which is why it is refused."""
    spec = {
        "job": {
            "name": "too-big",
            "team": "vision",
            "resource_flavor": "ram-64gb",
            "docker_image": IMAGE,
            "execution_time": "10 minutes",
            "execution_script": "true",
        }
    }
    with pytest.raises(SpecError) as caught:
        validate_data(spec, "jobs/vision/too-big.yaml", platform.config)
    message = str(caught.value)
    assert "teams.vision.quota: memory 64Gi > 8Gi" in message
    namespace = platform.config.namespace_of("vision")
    pod = platform.pod(_job("vision", "ram-64gb"), "too-big")
    platform.core.create_namespaced_pod(namespace, pod)
    name = pod["metadata"]["name"]

    def inadmissible() -> str:
        workloads = platform.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloads"
        )["items"]
        for workload in workloads:
            owners = workload["metadata"].get("ownerReferences", [])
            if any(o["name"] == name for o in owners):
                cond = condition(workload, "QuotaReserved") or {}
                message = str(cond.get("message", ""))
                if cond.get("status") == "False" and "memory" in message:
                    return message
        return ""

    reason = wait_for(inadmissible, timeout=30, what="Kueue's verdict on the too-big pod")
    print(f"Kueue on the too-big pod: {reason}")
    gates = platform.core.read_namespaced_pod(name, namespace).spec.scheduling_gates or []
    assert "kueue.x-k8s.io/admission" in [g.name for g in gates]
    platform.delete_pods("vision")


def test_the_admission_policy_guards_the_jobs_namespaces_beside_kueue(platform: Platform) -> None:
    """The chart's ValidatingAdmissionPolicy is applied with the queues (every pod above passed
    it, Kueue's changes included); a pod that breaks it is still refused."""
    namespace = platform.config.namespace_of("vision")
    [pod] = _pods(platform, "vision", 1)
    del pod["metadata"]["labels"]["airflow-platform/flavor"]
    with pytest.raises(client.ApiException) as refused:
        platform.core.create_namespaced_pod(namespace, pod)
    assert refused.value.status == 403
    assert "ValidatingAdmissionPolicy" in refused.value.body
    assert "platform's labels" in refused.value.body
