"""The one way the chart tests render the chart: the real `helm template`, parsed to dicts.

Modelled on the official Airflow chart's helm tests: every test goes through `render_chart()`
and asserts on the documents with jmespath.
"""

from __future__ import annotations

import configparser
import json
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import jmespath
import pytest
import yaml

from tests.harness.tools import REPO_ROOT, ToolMissingError, tool_path

CHART_DIR = REPO_ROOT / "charts" / "airflow-platform"
VALUES_DIR = Path(__file__).resolve().parent / "values"
RELEASE = "release"
NAMESPACE = "airflow"
FULLNAME = f"{RELEASE}-airflow-platform"
WORKERS_NAMESPACE = "airflow-jobs"
# Each team's jobs namespace under the default values: `<policy.jobs_namespace>-<team>`.
TEAM_NAMESPACES = {team: f"{WORKERS_NAMESPACE}-{team}" for team in ("analytics", "nlp", "vision")}
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def helm() -> str:
    """The pinned helm; a missing one fails the test with the command that builds it."""
    try:
        return str(tool_path("helm"))
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr."""


def run_helm(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Runs helm and returns stdout; raises `HelmError` with stderr when it fails."""
    proc = subprocess.run(
        [helm(), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise HelmError(proc.stderr.strip())
    return proc.stdout


def render_chart(
    values: dict[str, Any] | None = None,
    show_only: str | list[str] | None = None,
    *,
    values_files: list[Path] | None = None,
    namespace: str = NAMESPACE,
    name: str = RELEASE,
) -> list[dict[str, Any]]:
    """The documents `helm template` renders for these values, in order, empty ones dropped.

    `show_only` names template files relative to the chart (`templates/scheduler/deployment.yaml`).
    Raises `HelmError` when helm refuses the values.
    """
    only = [show_only] if isinstance(show_only, str) else list(show_only or [])
    files = tuple(str(f) for f in values_files or ())
    text = _render(json.dumps(values or {}, sort_keys=True), tuple(only), files, namespace, name)
    return [doc for doc in yaml.safe_load_all(text) if doc]


@lru_cache(maxsize=128)
def _render(
    values_json: str, only: tuple[str, ...], files: tuple[str, ...], namespace: str, name: str
) -> str:
    # Rendering is pure for given inputs, so repeated renders of the same values are cached.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as extra:
        extra.write(values_json)  # JSON is YAML
        extra.flush()
        args = ["template", name, str(CHART_DIR), "--namespace", namespace]
        for file in files:
            args += ["--values", file]
        args += ["--values", extra.name]
        for template in only:
            args += ["--show-only", template]
        return run_helm(*args)


def search(expression: str, document: Any) -> Any:
    """jmespath over one rendered document."""
    return jmespath.search(expression, document)


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The documents of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def find(docs: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> Any:
    """The one document of this kind and name (and namespace, when given)."""
    found = [
        d
        for d in by_kind(docs, kind)
        if d["metadata"]["name"] == name
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def airflow_cfg(
    docs: list[dict[str, Any]], namespace: str = NAMESPACE
) -> configparser.ConfigParser:
    """The airflow.cfg of the release's Airflow ConfigMap in ``namespace``, parsed."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(
        find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", namespace)["data"]["airflow.cfg"]
    )
    return parser


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod spec the release can start, by a readable origin: workload templates, Jobs,
    CronJobs, the `helm test` Pod, and the KubernetesExecutor's worker pod template carried in a
    ConfigMap."""
    specs: dict[str, dict[str, Any]] = {}
    for doc in docs:
        kind, name = doc["kind"], doc["metadata"]["name"]
        if kind in ("Deployment", "StatefulSet", "Job", "DaemonSet"):
            specs[f"{kind}/{name}"] = doc["spec"]["template"]["spec"]
        elif kind == "CronJob":
            specs[f"{kind}/{name}"] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif kind == "Pod":
            specs[f"Pod/{name}"] = doc["spec"]
        elif kind == "ConfigMap" and "pod_template_file.yaml" in doc.get("data", {}):
            template = yaml.safe_load(doc["data"]["pod_template_file.yaml"])
            origin = f"ConfigMap/{name}[{doc['metadata']['namespace']}]/pod_template_file.yaml"
            specs[origin] = template["spec"]
    return specs


def values_files() -> list[Path]:
    """Every values file the chart is tested with: its own dev file and the test scenarios."""
    return [CHART_DIR / "values-dev.yaml", *sorted(VALUES_DIR.glob("*.yaml"))]


def library_job_pod(
    platform_yaml: str, tmp_dir: Path, spec: str = "jobs/vision/train-classifier.yaml"
) -> dict[str, Any]:
    """A job pod exactly as the library builds it, from a real example spec and the platform
    config the chart rendered: what the JobOperator would create in the team's namespace."""
    from airflow_platform.config import load_config
    from airflow_platform.pods import build_pod, pod_to_dict
    from airflow_platform.spec.loader import load_spec

    config_file = tmp_dir / "platform.yaml"
    config_file.write_text(platform_yaml)
    return pod_to_dict(build_pod(load_spec(REPO_ROOT / spec), load_config(config_file)))


_BUILD_WORKER_POD = """
import json, sys, datetime
from kubernetes.client import ApiClient
from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

request = json.load(sys.stdin)
pod = PodGenerator.construct_pod(
    dag_id="chart_test", task_id="probe", pod_id="chart-test-probe", try_number=1,
    kube_image=request["image"], date=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
    args=["python", "-m", "airflow.sdk.execution_time.execute_workload", "--json-string", "{}"],
    pod_override_object=None,
    base_worker_pod=PodGenerator.deserialize_model_file(request["template"]),
    namespace=request["namespace"], scheduler_job_id="1", run_id="manual__chart_test",
)
print(json.dumps(ApiClient().sanitize_for_serialization(pod)))
"""


def executor_worker_pod(
    template_yaml: str, image: str, namespace: str, tmp_dir: Path
) -> dict[str, Any]:
    """The worker pod the KubernetesExecutor of Airflow 3.3.2 builds from this pod template,
    made by the provider's own PodGenerator in a subprocess (throwaway AIRFLOW_HOME)."""
    import os
    import sys

    template = tmp_dir / "pod_template_file.yaml"
    template.write_text(template_yaml)
    request = {"template": str(template), "image": image, "namespace": namespace}
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD_WORKER_POD],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_dir / "airflow-home")},
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pod: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return pod
