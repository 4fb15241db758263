"""A kerberized job pod as the real API server admits it in a namespace enforcing Pod Security
`restricted`: the native sidecar, the in-memory ticket cache and the 0400 keytab included."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_platform.config import PlatformConfig
from airflow_platform.kerberos import KEYTAB_VOLUME, RENEW_CONTAINER
from airflow_platform.pods import RunContext, build_pod
from airflow_platform.spec.models import JobSpec

pytestmark = [pytest.mark.kerberos, pytest.mark.cluster]


def test_kerberized_pod_is_admitted_under_restricted_with_its_sidecar_intact(
    core_v1: Any, restricted_namespace: str, krb_config: PlatformConfig
) -> None:
    """The API server accepts the pod as built and keeps the sidecar's restartPolicy Always
    and the keytab's mode 0400 (a server that dropped either would break the design)."""
    job = JobSpec.model_validate(
        {
            "name": "nightly-report",
            "team": "analytics",
            "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/analytics/report:1.0",
            "execution_time": "30 minutes",
            "execution_script": "python report.py",
            "kerberos": True,
        }
    )
    pod = build_pod(job, krb_config, RunContext(namespace=restricted_namespace))
    created = core_v1.create_namespaced_pod(restricted_namespace, pod)
    stored = core_v1.api_client.sanitize_for_serialization(created)
    inits = {c["name"]: c for c in stored["spec"]["initContainers"]}
    assert inits[RENEW_CONTAINER]["restartPolicy"] == "Always"
    volumes = {v["name"]: v for v in stored["spec"]["volumes"]}
    assert volumes[KEYTAB_VOLUME]["secret"]["defaultMode"] == 0o400
