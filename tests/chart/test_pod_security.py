"""Every pod the chart can start, under every tested values file, meets Pod Security
`restricted`, sizes every container, and probes every long-running one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.pss import violations
from tests.chart.render import CHART_DIR, library_job_pod, pod_specs, render_chart, values_files

pytestmark = pytest.mark.chart

SCENARIOS = [None, *values_files()]


def _ids(path: Path | None) -> str:
    return path.name if path else "defaults"


def _specs(values_file: Path | None) -> dict[str, dict]:
    docs = render_chart(values_files=[values_file] if values_file else None)
    specs = pod_specs(docs)
    assert specs, "the chart rendered no pods"
    return specs


@pytest.mark.parametrize("values_file", SCENARIOS, ids=_ids)
def test_every_pod_meets_restricted(values_file: Path | None) -> None:
    """Components, the database, the migration Job and the worker pod template all pass the
    `restricted` checker, whatever the values turn on."""
    problems = {
        origin: found for origin, spec in _specs(values_file).items() if (found := violations(spec))
    }
    assert not problems, problems


@pytest.mark.parametrize("values_file", SCENARIOS, ids=_ids)
def test_every_container_has_requests_and_limits(values_file: Path | None) -> None:
    """No container is unsized: CPU and memory requests and limits on each, init containers
    and sidecars included."""
    unsized = []
    for origin, spec in _specs(values_file).items():
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(part) or {}):
                    unsized.append(f"{origin}: {c['name']} {part}")
    assert not unsized, unsized


@pytest.mark.parametrize("values_file", SCENARIOS, ids=_ids)
def test_every_long_running_container_is_probed(values_file: Path | None) -> None:
    """Deployments and StatefulSets probe their main containers; run-to-completion pods (the
    migration Job, worker pods) have nothing to probe."""
    missing = []
    for origin, spec in _specs(values_file).items():
        if not origin.startswith(("Deployment/", "StatefulSet/")):
            continue
        for c in spec["containers"]:
            missing += [
                f"{origin}: {c['name']} {p}"
                for p in ("livenessProbe", "readinessProbe")
                if p not in c
            ]
    assert not missing, missing


def test_library_job_pod_meets_restricted(tmp_path: Path) -> None:
    """A job pod built by the library from the chart's platform config passes the same checker,
    so the chart's `restricted` jobs namespace admits what the JobOperator creates."""
    docs = render_chart(None, "templates/configmaps/platform-configmap.yaml")
    pod = library_job_pod(docs[0]["data"]["platform.yaml"], tmp_path)
    assert violations(pod["spec"]) == []


BAD = {
    "privileged": {"containers": [{"name": "c", "securityContext": {"privileged": True}}]},
    "root user": {"securityContext": {"runAsUser": 0}, "containers": [{"name": "c"}]},
    "hostPath": {
        "containers": [{"name": "c"}],
        "volumes": [{"name": "v", "hostPath": {"path": "/"}}],
    },
    "hostNetwork": {"hostNetwork": True, "containers": [{"name": "c"}]},
    "escalation allowed": {
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": True}}]
    },
    "capability added": {
        "containers": [
            {
                "name": "c",
                "securityContext": {"capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]}},
            }
        ]
    },
    "unconfined seccomp": {
        "securityContext": {"seccompProfile": {"type": "Unconfined"}},
        "containers": [{"name": "c"}],
    },
}


@pytest.mark.parametrize("spec", BAD.values(), ids=BAD.keys())
def test_checker_catches_what_restricted_forbids(spec: dict) -> None:
    """The checker is itself checked: each forbidden setting yields a violation."""
    assert violations(spec)


def test_checker_accepts_a_minimal_restricted_pod() -> None:
    """The smallest pod that meets `restricted` passes, so the checker is not just strict."""
    spec = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "v", "emptyDir": {}}],
    }
    assert violations(spec) == []


def test_values_files_exist() -> None:
    """The scenario list is not silently empty: the chart's dev file and the test scenarios."""
    files = values_files()
    assert CHART_DIR / "values-dev.yaml" in files
    assert len(files) >= 6
