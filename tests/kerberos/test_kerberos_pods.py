"""What `kerberos: true` adds to a job's pod, and what the policy says without a principal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig
from airflow_platform.kerberos import INIT_CONTAINER, KEYTAB_VOLUME, RENEW_CONTAINER
from airflow_platform.pods import build_pod, pod_to_dict
from airflow_platform.policy import check_job
from airflow_platform.spec.models import JobSpec
from tests.chart.pss import violations
from tests.kerberos.kdc import Kdc
from tests.kerberos.platform import kerberized_config_data
from tests.kerberos.secrets import keytab_leaks

pytestmark = pytest.mark.kerberos

JOB: dict[str, Any] = {
    "name": "nightly-report",
    "team": "analytics",
    "resource_flavor": "cpu-2gb",
    "docker_image": "registry.internal/analytics/report:1.0",
    "execution_time": "30 minutes",
    "execution_script": "python report.py",
    "kerberos": True,
}


def _pod(config: PlatformConfig, **overrides: Any) -> dict[str, Any]:
    return pod_to_dict(build_pod(JobSpec.model_validate({**JOB, **overrides}), config))


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_keytab_is_mounted_read_only_0400_into_the_kerberos_containers_only(
    krb_config: PlatformConfig,
) -> None:
    """The keytab Secret volume has mode 0400; only kinit and the sidecar mount it, read-only."""
    spec = _pod(krb_config)["spec"]
    volume = _by_name(spec["volumes"])[KEYTAB_VOLUME]
    assert volume["secret"]["secretName"] == "analytics-keytab"
    assert volume["secret"]["defaultMode"] == 0o400
    assert volume["secret"]["items"] == [{"key": "keytab", "path": "keytab"}]
    inits = _by_name(spec["initContainers"])
    for name in (INIT_CONTAINER, RENEW_CONTAINER):
        (mount,) = [m for m in inits[name]["volumeMounts"] if m["name"] == KEYTAB_VOLUME]
        assert mount["readOnly"] is True
    (job,) = spec["containers"]
    assert KEYTAB_VOLUME not in {m["name"] for m in job["volumeMounts"]}
    assert "KRB5_KEYTAB" not in {e["name"] for e in job["env"]}


def test_job_container_reads_the_ticket_cache_and_krb5_conf_from_its_env(
    krb_config: PlatformConfig,
) -> None:
    """KRB5CCNAME and KRB5_CONFIG point at the in-memory cache and the realm's ConfigMap."""
    spec = _pod(krb_config)["spec"]
    (job,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in job["env"]}
    mounts = {m["mountPath"]: m for m in job["volumeMounts"]}
    cache = env["KRB5CCNAME"].removeprefix("FILE:")
    assert mounts[str(Path(cache).parent)]["readOnly"] is True
    assert mounts[str(Path(env["KRB5_CONFIG"]).parent)]["readOnly"] is True
    volumes = _by_name(spec["volumes"])
    ccache = volumes[mounts[str(Path(cache).parent)]["name"]]
    assert ccache["emptyDir"]["medium"] == "Memory"
    conf = volumes[mounts[str(Path(env["KRB5_CONFIG"]).parent)]["name"]]
    assert conf["configMap"]["name"] == "airflow-platform-krb5"


def test_renewal_runs_as_a_native_sidecar_after_kinit(krb_config: PlatformConfig) -> None:
    """kinit runs first and exits; the renewer is an init container with restartPolicy Always."""
    inits = _pod(krb_config)["spec"]["initContainers"]
    assert [c["name"] for c in inits] == [INIT_CONTAINER, RENEW_CONTAINER]
    assert "restartPolicy" not in inits[0]
    assert inits[1]["restartPolicy"] == "Always"


def test_kerberized_pod_meets_pod_security_restricted(krb_config: PlatformConfig) -> None:
    """Every container, the Kerberos ones included, meets the Pod Security Standard."""
    assert violations(_pod(krb_config)["spec"]) == []


def test_jobs_without_kerberos_get_no_kerberos_parts(krb_config: PlatformConfig) -> None:
    """`kerberos: false` (the default) leaves the pod as it was."""
    spec = _pod(krb_config, kerberos=False)["spec"]
    assert "initContainers" not in spec
    # scratch space and the task's artifact folders only
    assert {v["name"] for v in spec["volumes"]} == {"tmp", "work", "input", "output"}


def test_policy_refuses_kerberos_for_a_team_without_a_principal(
    krb_config: PlatformConfig,
) -> None:
    """nlp has no principal: the job is refused with the field and the fix."""
    job = JobSpec.model_validate({**JOB, "team": "nlp"})
    (violation,) = check_job(job, krb_config)
    assert violation.field == ("kerberos",)
    assert "team 'nlp' has no Kerberos principal" in violation.message
    assert "teams.<team>.kerberos" in violation.hint


def test_validate_points_at_the_kerberos_line_of_a_spec(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path
) -> None:
    """`validate` reports the refusal like any spec error: file:line:col: job.kerberos: ..."""
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(kerberized_config_data(kdc.realm, kdc.krb5_conf_text())))
    spec = tmp_path / "report.yaml"
    spec.write_text(yaml.safe_dump({"job": {**JOB, "team": "nlp"}}, sort_keys=False))
    result = CliRunner().invoke(
        app, ["validate", "--config", str(config), str(spec)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert f"{spec}:8:13: job.kerberos: team 'nlp' has no Kerberos principal" in result.stdout


def test_render_of_a_kerberized_job_holds_no_keytab_bytes(kdc: Kdc, tmp_path: Path) -> None:
    """`render` shows the Secret's name only; none of the keytab's bytes, in any encoding."""
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(kerberized_config_data(kdc.realm, kdc.krb5_conf_text())))
    spec = tmp_path / "report.yaml"
    spec.write_text(yaml.safe_dump({"job": JOB}))
    result = CliRunner().invoke(app, ["render", "--config", str(config), str(spec)])
    assert result.exit_code == 0, result.output
    assert "analytics-keytab" in result.stdout
    assert keytab_leaks(result.output, kdc.keytabs["svc-analytics"].read_bytes()) == []
