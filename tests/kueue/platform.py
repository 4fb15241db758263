"""The chart's Kueue objects on the test control plane: render with helm, apply, read back.

Every test here goes through the chart and the library as a platform team would: values are
rendered by `helm template`, the jobs namespaces, job service accounts and Kueue objects it
renders are applied, and job pods are built by `build_pod` from the platform config the chart
renders (so the queue label is the one the chart turns on).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.pods import RunContext, build_pod, pod_to_dict
from airflow_platform.spec.models import JobSpec
from tests.chart.render import NAMESPACE, by_kind, render_chart
from tests.harness import tools
from tests.harness.controlplane import ControlPlane
from tests.harness.kube import wait_for

GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"
ADMISSION_GATE = "kueue.x-k8s.io/admission"
APPLIED_TEMPLATES = [
    # The API server's own guard on job pods, so Kueue's changes to them (gate, finalizer,
    # labels, then the flavor's node selector at admission) are shown to pass it.
    "templates/admission/validatingadmissionpolicy.yaml",
    "templates/admission/validatingadmissionpolicybinding.yaml",
    "templates/jobs/namespaces.yaml",
    "templates/jobs/job-serviceaccount.yaml",
    "templates/kueue/resourceflavor.yaml",
    "templates/kueue/clusterqueue.yaml",
    "templates/kueue/localqueue.yaml",
]
_CLUSTER_KINDS = {"ResourceFlavor": "resourceflavors", "ClusterQueue": "clusterqueues"}


@dataclass
class Platform:
    """What one render of the chart put on the cluster, and how to take it off again."""

    plane: ControlPlane
    api_client: Any
    config: PlatformConfig
    documents: list[dict[str, Any]]

    @property
    def custom(self) -> Any:
        return client.CustomObjectsApi(self.api_client)

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api_client)

    def cluster_queue(self, team: str) -> dict[str, Any]:
        [queue] = [
            d
            for d in by_kind(self.documents, "ClusterQueue")
            if d["metadata"]["labels"]["airflow-platform/team"] == team
        ]
        live: dict[str, Any] = self.custom.get_cluster_custom_object(
            GROUP, VERSION, "clusterqueues", queue["metadata"]["name"]
        )
        return live

    def pod(self, job: JobSpec, task: str) -> dict[str, Any]:
        """The job's pod as the operator would create it, for one task of one run."""
        context = RunContext(dag_id="kueue-test", task_id=task, run_id="run-1", try_number=1)
        return pod_to_dict(build_pod(job, self.config, context))

    def delete_pods(self, team: str) -> None:
        """Remove the team's pods; Kueue takes its finalizer off each, so wait for that."""
        namespace = self.config.namespace_of(team)
        self.core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
        wait_for(
            lambda: not self.core.list_namespaced_pod(namespace).items,
            timeout=60,
            what=f"pods of {namespace} deleted",
        )

    def remove(self) -> None:
        for team in self.config.teams:
            self.delete_pods(team)
        admission = client.AdmissionregistrationV1Api(self.api_client)
        for doc in reversed(self.documents):
            kind, name = doc["kind"], doc["metadata"]["name"]
            try:
                if kind in _CLUSTER_KINDS:
                    self.custom.delete_cluster_custom_object(
                        GROUP, VERSION, _CLUSTER_KINDS[kind], name
                    )
                elif kind == "LocalQueue":
                    self.custom.delete_namespaced_custom_object(
                        GROUP, VERSION, doc["metadata"]["namespace"], "localqueues", name
                    )
                elif kind == "Namespace":
                    self.core.delete_namespace(name)
                elif kind == "ValidatingAdmissionPolicyBinding":
                    admission.delete_validating_admission_policy_binding(name)
                elif kind == "ValidatingAdmissionPolicy":
                    admission.delete_validating_admission_policy(name)
            except client.ApiException as err:
                if err.status != 404:
                    raise


@contextmanager
def install(
    plane: ControlPlane,
    values: dict[str, Any],
    values_files: list[Path] | None = None,
    release: str = "release",
) -> Iterator[Platform]:
    """Apply the chart's jobs namespaces and Kueue objects for ``values``; yield them; remove
    them (a context manager). Releases of different names
    have cluster-scoped objects (ResourceFlavors, ClusterQueues) of different names."""
    documents = render_chart(values, APPLIED_TEMPLATES, values_files=values_files, name=release)
    configmap = render_chart(
        values,
        "templates/configmaps/platform-configmap.yaml",
        values_files=values_files,
        name=release,
    )
    [text] = [
        d["data"]["platform.yaml"] for d in configmap if d["metadata"]["namespace"] == NAMESPACE
    ]
    config = parse_config(text.encode(), "platform.yaml")
    manifest = plane.workdir / f"kueue-objects-{time.monotonic_ns()}.yaml"
    manifest.write_text(yaml.safe_dump_all(documents))
    # kubectl applies each kind through its own API, and a refusal by Kueue's webhooks fails it.
    subprocess.run(
        [str(tools.tool_path("kubectl")), "apply", "-f", str(manifest)],
        env=plane.env,
        check=True,
        capture_output=True,
        text=True,
    )
    api_client = plane.api_client()
    platform = Platform(plane, api_client, config, documents)
    try:
        _wait_for_admission_policy(platform)
        yield platform
    finally:
        platform.remove()
        api_client.close()


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            found: dict[str, Any] = cond
            return found
    return None


def is_gated(pod: dict[str, Any]) -> bool:
    gates = pod["spec"].get("schedulingGates") or []
    return any(g["name"] == ADMISSION_GATE for g in gates)


def _wait_for_admission_policy(platform: Platform) -> None:
    """The API server enforces a new ValidatingAdmissionPolicy a moment after it is created:
    wait until it refuses a job pod stripped of the platform's labels (a dry run: nothing is
    made; the pod passes Pod Security, so the refusal is the policy's)."""
    team = next(iter(platform.config.teams))
    job = JobSpec(
        name="admission-probe",
        team=team,
        resource_flavor=platform.config.flavors_for(team)[0],
        docker_image="registry.internal/tests/job:1.0",
        execution_time="1 minute",
        execution_script="true",
    )
    probe = platform.pod(job, "probe")
    probe["metadata"]["labels"] = {}

    def refused() -> bool:
        try:
            platform.core.create_namespaced_pod(
                probe["metadata"]["namespace"], probe, dry_run="All"
            )
        except client.ApiException as err:
            return "ValidatingAdmissionPolicy" in (err.body or "")
        return False

    wait_for(refused, timeout=30, what="the admission policy enforced", interval=0.5)
