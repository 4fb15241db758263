"""A Kerberos job on the real node, logging in to the real KDC of tests/kerberos.

The KDC listens on the host's loopback; the node's pods reach it through one relayed port
(``RealNode.expose``), the only opening the node's network namespace gets for this test.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from airflow_platform.config import PlatformConfig
from airflow_platform.failures import explain_failure
from airflow_platform.kerberos import INIT_CONTAINER, KEYTAB_PATH, RENEW_CONTAINER
from airflow_platform.pods import JOB_UID
from tests.harness import tools
from tests.harness.node import RealNode
from tests.kerberos.conftest import kdc  # noqa: F401  (the session's KDC fixture)
from tests.kerberos.kdc import Kdc
from tests.node import podrun

pytestmark = [pytest.mark.node, pytest.mark.kerberos]
KRB5_IMAGE = "registry.internal/airflow-platform/krb5:0.1.0"

JOB_SCRIPT = r"""
klist
if [ -e /etc/airflow-platform/keytab ]; then echo "job sees a keytab"; else echo "no keytab here"; fi
sleep 20
"""


@pytest.fixture
def kerberized(
    kdc: Kdc,  # noqa: F811
    real_node: RealNode,
    core_v1: Any,
    restricted_namespace: str,
    node_config: PlatformConfig,
) -> PlatformConfig:
    """The real-node config with the KDC's realm, team vision mapped to its principal, and the
    keytab Secret and krb5.conf ConfigMap in the test's namespace."""
    address = real_node.expose(kdc.port)
    krb5_conf = kdc.krb5_conf_text().replace(f"127.0.0.1:{kdc.port}", address)
    data = node_config.model_dump(mode="json", exclude_none=True)
    data["kerberos"] = {"realm": kdc.realm, "krb5_conf": krb5_conf, "image": KRB5_IMAGE}
    data["teams"]["vision"]["kerberos"] = {
        "principal": kdc.principal("svc-vision"),
        "keytab_secret": "vision-keytab",
    }
    config = PlatformConfig.model_validate(data)
    core_v1.create_namespaced_secret(
        restricted_namespace,
        {
            "metadata": {"name": "vision-keytab"},
            "data": {"keytab": _b64(kdc.keytabs["svc-vision"].read_bytes())},
        },
    )
    assert config.kerberos is not None
    core_v1.create_namespaced_config_map(
        restricted_namespace,
        {
            "metadata": {"name": config.kerberos.krb5_conf_configmap},
            "data": {"krb5.conf": krb5_conf},
        },
    )
    return config


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_kerberos_job_logs_in_from_a_keytab_only_the_kerberos_containers_can_read(
    kdc: Kdc,  # noqa: F811
    kerberized: PlatformConfig,
    control_plane: Any,
    core_v1: Any,
    restricted_namespace: str,
) -> None:
    """kinit (as the job user) logs in from the team's keytab; the job holds the ticket but
    cannot see the keytab; on the node the keytab is root-owned, group the pod's fsGroup, and
    readable by that group only."""
    spec = podrun.job(
        "kerberized", JOB_SCRIPT, docker_image=KRB5_IMAGE, kerberos=True, execution_time="2m"
    )
    name = podrun.start(core_v1, spec, kerberized, restricted_namespace)
    podrun.watch(core_v1, name, restricted_namespace, until=("Running", "Succeeded", "Failed"))
    keytab = _exec(
        control_plane,
        restricted_namespace,
        name,
        RENEW_CONTAINER,
        "stat",
        "-L",
        "-c",
        "%a %u %g",
        KEYTAB_PATH,
    )
    result = podrun.watch(core_v1, name, restricted_namespace)
    init_log = podrun.pod_log(core_v1, name, restricted_namespace, INIT_CONTAINER)
    job_log = podrun.log(core_v1, result)
    assert result.phase == "Succeeded", (init_log, job_log)
    principal = kdc.principal("svc-vision")
    assert f"kerberos: logged in as {principal}" in init_log
    assert f"Default principal: {principal}" in job_log
    assert "no keytab here" in job_log
    # The renewal sidecar ends on the kubelet's SIGTERM when the job ends, not killed after
    # the grace period (a shell as PID 1 drops a signal it has no trap for).
    renew = result.terminated(RENEW_CONTAINER)
    assert renew is not None
    assert renew.exit_code == 0, renew
    print(f"\nkeytab on the node: mode, owner, group = {keytab}")
    mode, owner, group = keytab.split()
    assert (owner, group) == ("0", str(JOB_UID))
    assert int(mode, 8) & 0o077 == 0o040, f"mode {mode}: group read only, nothing for others"


def _exec(plane: Any, namespace: str, pod: str, container: str, *command: str) -> str:
    """`kubectl exec` through the API server and the kubelet (retried while the sidecar
    starts)."""
    kubectl = str(tools.tool_path("kubectl"))
    deadline = time.monotonic() + 30
    while True:
        result = subprocess.run(
            [kubectl, "exec", "-n", namespace, pod, "-c", container, "--", *command],
            capture_output=True,
            text=True,
            env=plane.env,
            check=False,
        )
        if result.returncode == 0 or time.monotonic() > deadline:
            assert result.returncode == 0, result.stderr
            return result.stdout.strip()
        time.sleep(1)


def test_kerberos_login_failure_is_explained_with_kinits_message(
    kdc: Kdc,  # noqa: F811
    kerberized: PlatformConfig,
    core_v1: Any,
    restricted_namespace: str,
) -> None:
    """The team's keytab Secret holds another team's keys: kinit fails on the real node, the
    job never starts, and the one-line reason (the task log's) quotes kinit's own message,
    through the container's termination message."""
    core_v1.patch_namespaced_secret(
        "vision-keytab",
        restricted_namespace,
        {"data": {"keytab": _b64(kdc.keytabs["svc-analytics"].read_bytes())}},
    )
    spec = podrun.job("wrong-keytab", "echo never", docker_image=KRB5_IMAGE, kerberos=True)
    result = podrun.run(core_v1, spec, kerberized, restricted_namespace)
    assert result.phase == "Failed"
    reason = explain_failure(result.pod, spec, kerberized)
    print(f"\n{reason}")
    assert reason.startswith(f"job wrong-keytab did not start: container {INIT_CONTAINER} exited")
    assert f"cannot log in as {kdc.principal('svc-vision')}" in reason
    assert f"the keytab holds keys for: {kdc.principal('svc-analytics')}" in reason
