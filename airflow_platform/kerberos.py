"""Kerberos for job pods: a ticket from the team's keytab, obtained before the job and renewed.

A job with ``kerberos: true`` gets, from ``build_pod``:

- an init container ``kerberos-init`` that runs ``kinit`` from the team's keytab into a ticket
  cache on an in-memory ``emptyDir`` (:func:`kinit_script`);
- a native sidecar ``kerberos-renew`` (an init container with ``restartPolicy: Always``, so it
  never keeps a finished pod Running) that renews the ticket, or logs in again from the keytab
  once it can no longer be renewed (:func:`renew_script`);
- ``KRB5CCNAME`` and ``KRB5_CONFIG`` in the job container, which mounts the ticket cache and
  ``krb5.conf`` read-only and never the keytab.

The keytab Secret is mounted read-only with mode 0400 into the two Kerberos containers only;
the kubelet adds group read for the pod's ``fsGroup`` (the job user's group), so on the node
the file is root-owned, mode 0440, readable by the job user and by no other user.
The scripts are plain POSIX shell so the tests run them as they are against a real KDC; their
output names the principal and never prints the keytab.
"""

from __future__ import annotations

from collections.abc import Callable

from kubernetes.client import (
    V1ConfigMapVolumeSource,
    V1Container,
    V1EmptyDirVolumeSource,
    V1EnvVar,
    V1KeyToPath,
    V1Pod,
    V1ResourceRequirements,
    V1SecretVolumeSource,
    V1SecurityContext,
    V1Volume,
    V1VolumeMount,
)

from airflow_platform.config import KerberosConfig, PlatformConfig, TeamKerberos

KEYTAB_MODE = 0o400
KEYTAB_VOLUME = "kerberos-keytab"
KEYTAB_DIR = "/etc/airflow-platform/keytab"
KEYTAB_PATH = f"{KEYTAB_DIR}/keytab"
CCACHE_VOLUME = "kerberos-ccache"
CCACHE_DIR = "/var/run/airflow-platform/krb5"
CCACHE = f"FILE:{CCACHE_DIR}/ccache"
KRB5_CONF_VOLUME = "kerberos-krb5-conf"
KRB5_CONF_KEY = "krb5.conf"
KRB5_CONF_DIR = "/etc/airflow-platform/krb5"
KRB5_CONF_PATH = f"{KRB5_CONF_DIR}/{KRB5_CONF_KEY}"
INIT_CONTAINER = "kerberos-init"
RENEW_CONTAINER = "kerberos-renew"
# The fixed size of the two Kerberos containers (the admission policy admits them at it).
SIDE_RESOURCES = V1ResourceRequirements(
    requests={"cpu": "10m", "memory": "32Mi"}, limits={"memory": "32Mi"}
)


def kinit_script() -> str:
    """Shell that obtains a ticket for ``$KRB5_PRINCIPAL`` from ``$KRB5_KEYTAB`` into
    ``$KRB5CCNAME``, reading ``$KRB5_CONFIG``.

    A failure says which principal could not log in and which principals the keytab does
    hold (names only, from ``klist -k``), so a keytab of another team is plain to see.
    """
    return r"""set -u
: "${KRB5_PRINCIPAL:?KRB5_PRINCIPAL is not set}" "${KRB5_KEYTAB:?KRB5_KEYTAB is not set}"
: "${KRB5CCNAME:?KRB5CCNAME is not set}"
if [ ! -r "$KRB5_KEYTAB" ]; then
  echo "kerberos: cannot read the keytab of $KRB5_PRINCIPAL at $KRB5_KEYTAB" >&2
  exit 1
fi
if ! out=$(kinit -r "${KRB5_RENEW_LIFETIME:-7d}" -k -t "$KRB5_KEYTAB" "$KRB5_PRINCIPAL" 2>&1); then
  held=$(klist -k "$KRB5_KEYTAB" 2>/dev/null | awk 'NR > 3 {print $2}' | sort -u | tr '\n' ' ')
  echo "kerberos: cannot log in as $KRB5_PRINCIPAL from the team's keytab: $out" >&2
  echo "kerberos: the keytab holds keys for: ${held:-nothing readable}" >&2
  exit 1
fi
echo "kerberos: logged in as $KRB5_PRINCIPAL (ticket cache $KRB5CCNAME)"
"""


def renew_script() -> str:
    """Shell that keeps the ticket fresh: every ``$KRB5_RENEW_INTERVAL`` seconds it renews it
    (``kinit -R``), or logs in again from the keytab when the ticket can no longer be renewed.

    ``$KRB5_RENEW_ROUNDS`` (default 0: forever) bounds the loop, for tests.

    The shell is its container's PID 1, which ignores a signal it has no handler for: without
    the trap, the kubelet's SIGTERM at the end of the job would be lost and the pod would stay
    Running until its grace period ran out. ``sleep`` runs in the background so that the trap
    runs at once, not after the sleep.
    """
    return r"""set -u
trap 'exit 0' TERM INT
interval="${KRB5_RENEW_INTERVAL:-3600}"
rounds="${KRB5_RENEW_ROUNDS:-0}"
done_rounds=0
while [ "$rounds" -eq 0 ] || [ "$done_rounds" -lt "$rounds" ]; do
  sleep "$interval" &
  wait $!
  done_rounds=$((done_rounds + 1))
  if out=$(kinit -R "$KRB5_PRINCIPAL" 2>&1); then
    echo "kerberos: renewed the ticket of $KRB5_PRINCIPAL"
  elif out2=$(kinit -r "${KRB5_RENEW_LIFETIME:-7d}" -k -t "$KRB5_KEYTAB" "$KRB5_PRINCIPAL" 2>&1); then
    echo "kerberos: the ticket of $KRB5_PRINCIPAL could not be renewed ($out); logged in again from the keytab"
  else
    echo "kerberos: cannot renew or obtain a ticket for $KRB5_PRINCIPAL: $out2" >&2
  fi
done
"""


def kerberos_env(team: TeamKerberos, kerberos: KerberosConfig) -> list[V1EnvVar]:
    """Environment of the Kerberos containers: who to log in as, from where, into where."""
    values = {
        "KRB5_PRINCIPAL": team.principal,
        "KRB5_KEYTAB": KEYTAB_PATH,
        "KRB5CCNAME": CCACHE,
        "KRB5_CONFIG": KRB5_CONF_PATH,
        "KRB5_RENEW_INTERVAL": str(int(kerberos.renew_interval.total_seconds())),
    }
    return [V1EnvVar(name=k, value=v) for k, v in values.items()]


def job_kerberos_env() -> list[V1EnvVar]:
    """What the job container needs to use the ticket: the cache and the realm's config."""
    return [
        V1EnvVar(name="KRB5CCNAME", value=CCACHE),
        V1EnvVar(name="KRB5_CONFIG", value=KRB5_CONF_PATH),
    ]


def keytab_volume(team: TeamKerberos) -> V1Volume:
    """The team's keytab Secret as a volume: one file, ``keytab``, mode 0400."""
    return V1Volume(
        name=KEYTAB_VOLUME,
        secret=V1SecretVolumeSource(
            secret_name=team.keytab_secret,
            items=[V1KeyToPath(key=team.keytab_key, path="keytab")],
            default_mode=KEYTAB_MODE,
        ),
    )


def keytab_mount() -> V1VolumeMount:
    return V1VolumeMount(name=KEYTAB_VOLUME, mount_path=KEYTAB_DIR, read_only=True)


def krb5_conf_volume(kerberos: KerberosConfig) -> V1Volume:
    """The realm's ``krb5.conf`` from the ConfigMap the chart renders."""
    return V1Volume(
        name=KRB5_CONF_VOLUME,
        config_map=V1ConfigMapVolumeSource(
            name=kerberos.krb5_conf_configmap,
            items=[V1KeyToPath(key=KRB5_CONF_KEY, path=KRB5_CONF_KEY)],
        ),
    )


def krb5_conf_mount() -> V1VolumeMount:
    return V1VolumeMount(name=KRB5_CONF_VOLUME, mount_path=KRB5_CONF_DIR, read_only=True)


def team_kerberos(team: str, config: PlatformConfig) -> tuple[TeamKerberos, KerberosConfig]:
    """The team's identity and the realm config; the policy has checked both exist."""
    entry = config.teams[team].kerberos
    if entry is None or config.kerberos is None:
        raise ValueError(f"team {team} has no Kerberos principal in the platform config")
    return entry, config.kerberos


def add_kerberos(
    pod: V1Pod,
    team: str,
    config: PlatformConfig,
    security_context: Callable[[], V1SecurityContext],
    job_container: str,
) -> None:
    """Adds the kinit init container, the renewal sidecar and their volumes to ``pod``.

    ``security_context`` makes the containers' (PSS ``restricted``) security context; the
    job container named ``job_container`` gets the ticket cache and ``krb5.conf``, read-only.
    """
    entry, kerberos = team_kerberos(team, config)
    env = kerberos_env(entry, kerberos)
    mounts = [
        keytab_mount(),
        V1VolumeMount(name=CCACHE_VOLUME, mount_path=CCACHE_DIR),
        krb5_conf_mount(),
    ]

    def sidecar(name: str, script: str, **extra: str) -> V1Container:
        return V1Container(
            name=name,
            image=kerberos.image,
            command=["/bin/sh", "-c", script],
            env=env,
            volume_mounts=mounts,
            resources=SIDE_RESOURCES,
            security_context=security_context(),
            # kinit's message (principal, realm, what the keytab holds) becomes the container's
            # termination message, which the one-line failure reason quotes (failures.py).
            termination_message_policy="FallbackToLogsOnError",
            **extra,
        )

    init = sidecar(INIT_CONTAINER, kinit_script())
    # A native sidecar: it ends with the pod's main container.
    renew = sidecar(RENEW_CONTAINER, renew_script(), restart_policy="Always")
    spec = pod.spec
    spec.init_containers = [*(spec.init_containers or []), init, renew]
    spec.volumes = [
        *(spec.volumes or []),
        keytab_volume(entry),
        V1Volume(
            name=CCACHE_VOLUME, empty_dir=V1EmptyDirVolumeSource(medium="Memory", size_limit="1Mi")
        ),
        krb5_conf_volume(kerberos),
    ]
    for container in spec.containers:
        if container.name != job_container:
            continue
        container.env = [*(container.env or []), *job_kerberos_env()]
        container.volume_mounts = [
            *(container.volume_mounts or []),
            V1VolumeMount(name=CCACHE_VOLUME, mount_path=CCACHE_DIR, read_only=True),
            krb5_conf_mount(),
        ]
