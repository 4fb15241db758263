"""`run --local` of a job with `kerberos: true` uses this machine's own ticket and krb5.conf
(the pod's ticket cache belongs to a sidecar that does not run locally)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airflow_platform.config import PlatformConfig
from airflow_platform.runners.local import run_local
from airflow_platform.spec.models import JobSpec
from tests.kerberos.kdc import Kdc, find_binary

pytestmark = pytest.mark.kerberos


def test_local_run_of_a_kerberized_job_sees_the_local_ticket(
    kdc: Kdc,
    krb_config: PlatformConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After a local `kinit`, the job's `klist` shows the team's principal from the local cache."""
    cache = f"FILE:{tmp_path / 'ccache'}"
    subprocess.run(
        [find_binary("kinit"), "-k", "-t", str(kdc.keytabs["svc-analytics"]),
         kdc.principal("svc-analytics")],
        env={**kdc.env, "KRB5CCNAME": cache},
        check=True,
        timeout=30,
    )  # fmt: skip
    monkeypatch.setenv("KRB5CCNAME", cache)
    monkeypatch.setenv("KRB5_CONFIG", str(kdc.krb5_conf))
    job = JobSpec.model_validate(
        {
            "name": "whoami",
            "team": "analytics",
            "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/analytics/report:1.0",
            "execution_time": "1 minute",
            "execution_script": f"{find_binary('klist')}; echo cache=$KRB5CCNAME",
            "kerberos": True,
        }
    )
    lines: list[str] = []
    result = run_local(job, krb_config, cwd=tmp_path, on_output=lines.append)
    output = "".join(lines)
    assert result.succeeded, output
    assert f"Default principal: {kdc.principal('svc-analytics')}" in output
    assert f"cache={cache}" in output
