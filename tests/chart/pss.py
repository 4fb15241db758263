"""A checker for the Pod Security Standard `restricted` (Kubernetes 1.34, profile `latest`).

It follows the rules of https://kubernetes.io/docs/concepts/security/pod-security-standards/
as the PodSecurity admission plugin applies them: every baseline control, then the restricted
ones. It reads a pod spec as plain dict (what `helm template` renders), so chart tests can check
every pod the chart can start without a cluster; the install tests then let the real admission
plugin judge the same pods.
"""

from __future__ import annotations

from typing import Any

# Baseline: capabilities a container may add; restricted narrows this to NET_BIND_SERVICE.
_RESTRICTED_ADD = {"NET_BIND_SERVICE"}
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
_SECCOMP_OK = {"RuntimeDefault", "Localhost"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        *(spec.get("initContainers") or []),
        *(spec.get("containers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]


def violations(spec: dict[str, Any]) -> list[str]:
    """Every way this pod spec breaks `restricted`; empty when it meets it."""
    out: list[str] = []
    pod_sc = spec.get("securityContext") or {}
    containers = _containers(spec)

    # --- baseline ---
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"spec.{field} must not be true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        out.append("securityContext.windowsOptions.hostProcess must not be true")
    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            out.append(f"volume {volume.get('name')}: hostPath volumes are forbidden")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            out.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    out += _selinux_and_apparmor("pod", pod_sc)

    for c in containers:
        name = c.get("name", "?")
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"container {name}: privileged must not be true")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            out.append(f"container {name}: hostProcess must not be true")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                out.append(f"container {name}: hostPort {port['hostPort']} is forbidden")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"container {name}: procMount must be Default")
        out += _selinux_and_apparmor(f"container {name}", sc)

        # --- restricted ---
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name}: allowPrivilegeEscalation must be false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"container {name}: capabilities.drop must include ALL")
        added = set(caps.get("add") or []) - _RESTRICTED_ADD
        if added:
            out.append(f"container {name}: may add only NET_BIND_SERVICE, adds {sorted(added)}")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            out.append(f"container {name}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            out.append(f"container {name}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in _SECCOMP_OK:
            out.append(f"container {name}: seccompProfile must be RuntimeDefault or Localhost")

    # --- restricted, pod level ---
    if pod_sc.get("runAsNonRoot") is False:
        out.append("securityContext.runAsNonRoot must not be false")
    if pod_sc.get("runAsUser") == 0:
        out.append("securityContext.runAsUser must not be 0")
    if (pod_sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append("securityContext.seccompProfile must not be Unconfined")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _VOLUME_TYPES:
            out.append(f"volume {volume.get('name')}: type {sorted(kinds)} is not allowed")
    return out


def _selinux_and_apparmor(where: str, sc: dict[str, Any]) -> list[str]:
    out = []
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES:
        out.append(f"{where}: seLinuxOptions.type {selinux['type']} is not allowed")
    if selinux.get("user") or selinux.get("role"):
        out.append(f"{where}: seLinuxOptions.user and .role must be unset")
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        out.append(f"{where}: appArmorProfile must be RuntimeDefault or Localhost")
    return out
