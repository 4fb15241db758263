"""The injected Kerberos commands, run as they are against a real MIT KDC.

The init container's and the sidecar's commands and environment are taken from the pod that
`build_pod` makes; only the paths of their volumes (keytab, ticket cache, krb5.conf) are
pointed at local files holding what the volumes would hold.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.config import PlatformConfig
from airflow_platform.kerberos import INIT_CONTAINER, RENEW_CONTAINER
from airflow_platform.pods import build_pod
from airflow_platform.spec.models import JobSpec
from tests.kerberos.kdc import Kdc, find_binary

pytestmark = pytest.mark.kerberos


def _job() -> JobSpec:
    return JobSpec.model_validate(
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


def _injected(config: PlatformConfig, name: str) -> tuple[list[str], dict[str, str]]:
    pod = build_pod(_job(), config)
    (container,) = [c for c in pod.spec.init_containers if c.name == name]
    return list(container.command), {e.name: e.value for e in container.env}


def _run(
    command: list[str], env: dict[str, str], kdc: Kdc, local: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Runs an injected command with the pod's env, its volume paths mapped to local files."""
    return subprocess.run(
        command,
        env={**kdc.env, **env, **local},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _local(kdc: Kdc, tmp_path: Path, keytab: str, principal: str | None = None) -> dict[str, str]:
    paths = {
        "KRB5_KEYTAB": str(kdc.keytabs[keytab]),
        "KRB5CCNAME": f"FILE:{tmp_path / 'ccache'}",
        "KRB5_CONFIG": str(kdc.krb5_conf),
    }
    if principal:
        paths["KRB5_PRINCIPAL"] = principal
    return paths


def _klist(kdc: Kdc, local: dict[str, str]) -> str:
    result = subprocess.run(
        [find_binary("klist")],
        env={**kdc.env, "KRB5CCNAME": local["KRB5CCNAME"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


def test_init_container_command_obtains_a_ticket_for_the_team_principal(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path
) -> None:
    """The kinit init container, run with the team's keytab, leaves a TGT of the principal."""
    command, env = _injected(krb_config, INIT_CONTAINER)
    assert env["KRB5_PRINCIPAL"] == kdc.principal("svc-analytics")
    local = _local(kdc, tmp_path, "svc-analytics")
    result = _run(command, env, kdc, local)
    assert result.returncode == 0, result.stderr
    assert f"logged in as {kdc.principal('svc-analytics')}" in result.stdout
    tickets = _klist(kdc, local)
    assert f"Default principal: {kdc.principal('svc-analytics')}" in tickets
    assert f"krbtgt/{kdc.realm}@{kdc.realm}" in tickets


@pytest.mark.parametrize(
    ("keytab", "principal", "held"),
    [
        pytest.param("svc-analytics", "svc-nobody", "svc-analytics", id="unknown-principal"),
        pytest.param("svc-vision", "svc-analytics", "svc-vision", id="keytab-of-another-team"),
    ],
)
def test_login_with_the_wrong_keytab_fails_naming_the_principal(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path, keytab: str, principal: str, held: str
) -> None:
    """A principal the keytab has no keys for fails at once, naming it and what the keytab holds."""
    command, env = _injected(krb_config, INIT_CONTAINER)
    local = _local(kdc, tmp_path, keytab, kdc.principal(principal))
    result = _run(command, env, kdc, local)
    assert result.returncode == 1
    assert f"cannot log in as {kdc.principal(principal)}" in result.stderr
    assert f"the keytab holds keys for: {kdc.principal(held)}" in result.stderr
    assert "Default principal" not in _klist(kdc, local)


def test_a_missing_keytab_fails_naming_the_principal(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path
) -> None:
    """A keytab Secret that is not mounted (or unreadable) is reported with the principal."""
    command, env = _injected(krb_config, INIT_CONTAINER)
    local = {**_local(kdc, tmp_path, "svc-analytics"), "KRB5_KEYTAB": str(tmp_path / "none")}
    result = _run(command, env, kdc, local)
    assert result.returncode == 1
    assert f"cannot read the keytab of {kdc.principal('svc-analytics')}" in result.stderr


def _starts(tickets: str) -> list[str]:
    return [line[:17] for line in tickets.splitlines() if "krbtgt/" in line]


def test_renewal_sidecar_renews_the_ticket(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path
) -> None:
    """One round of the sidecar renews the TGT: same principal, a later start time."""
    init, init_env = _injected(krb_config, INIT_CONTAINER)
    local = _local(kdc, tmp_path, "svc-analytics")
    assert _run(init, init_env, kdc, local).returncode == 0
    before = _starts(_klist(kdc, local))
    command, env = _injected(krb_config, RENEW_CONTAINER)
    assert env["KRB5_RENEW_INTERVAL"] == "3600"
    rounds = {**local, "KRB5_RENEW_INTERVAL": "1", "KRB5_RENEW_ROUNDS": "1"}
    result = _run(command, env, kdc, rounds)
    assert result.returncode == 0, result.stderr
    assert f"renewed the ticket of {kdc.principal('svc-analytics')}" in result.stdout
    after = _klist(kdc, local)
    assert f"Default principal: {kdc.principal('svc-analytics')}" in after
    assert _starts(after)
    assert _starts(after) != before


def test_renewal_sidecar_logs_in_again_when_the_ticket_is_gone(
    kdc: Kdc, krb_config: PlatformConfig, tmp_path: Path
) -> None:
    """A ticket that cannot be renewed (here: destroyed) is replaced from the keytab."""
    command, env = _injected(krb_config, RENEW_CONTAINER)
    local = _local(kdc, tmp_path, "svc-analytics")
    rounds: dict[str, Any] = {**local, "KRB5_RENEW_INTERVAL": "0", "KRB5_RENEW_ROUNDS": "1"}
    result = _run(command, env, kdc, rounds)
    assert result.returncode == 0, result.stderr
    assert "logged in again from the keytab" in result.stdout
    assert f"Default principal: {kdc.principal('svc-analytics')}" in _klist(kdc, local)
