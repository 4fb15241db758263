"""Where the pinned test tools live, read from the same file the installer uses.

`scripts/install-tools.sh` builds every tool into `<cache>/<tool>-<version>/`; the harness and
the chart tests look them up here so that a version is pinned in exactly one place
(`scripts/versions.env`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "scripts" / "versions.env"
INSTALL_HINT = "run `make tools` (or `bash scripts/install-tools.sh`) to build the pinned tools"

# The directory of each binary, named after the versions.env key that pins it.
_TOOL_DIRS = {
    "kube-apiserver": ("kubernetes", "KUBERNETES_VERSION"),
    "kube-controller-manager": ("kubernetes", "KUBERNETES_VERSION"),
    "kube-scheduler": ("kubernetes", "KUBERNETES_VERSION"),
    "kubectl": ("kubernetes", "KUBERNETES_VERSION"),
    "kubelet": ("kubernetes", "KUBERNETES_VERSION"),
    "kube-proxy": ("kubernetes", "KUBERNETES_VERSION"),
    "etcd": ("etcd", "ETCD_VERSION"),
    "kwok": ("kwok", "KWOK_VERSION"),
    "helm": ("helm", "HELM_VERSION"),
    "statsd_exporter": ("statsd_exporter", "STATSD_EXPORTER_VERSION"),
    "coredns": ("coredns", "COREDNS_VERSION"),
    "weed": ("seaweedfs", "SEAWEEDFS_VERSION"),
    "kueue": ("kueue", "KUEUE_VERSION"),
    "kube-state-metrics": ("kube-state-metrics", "KUBE_STATE_METRICS_VERSION"),
}


class ToolMissingError(RuntimeError):
    """A pinned tool is not in the cache; the message says how to build it."""


def versions() -> dict[str, str]:
    """The pinned versions, as `scripts/versions.env` states them."""
    pinned: dict[str, str] = {}
    for raw in VERSIONS_FILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        pinned[key.strip()] = value.strip().strip("\"'")
    return pinned


def cache_dir() -> Path:
    """The tools cache, resolved exactly as the installer resolves it."""
    explicit = os.environ.get("AIRFLOW_PLATFORM_TOOLS")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "airflow-platform" / "tools"


def tool_dir(tool: str) -> Path:
    """`<cache>/<tool>-<version>` for a tool such as `kwok` or `kube-apiserver`."""
    family, key = _TOOL_DIRS[tool]
    return cache_dir() / f"{family}-{versions()[key]}"


def tool_path(tool: str) -> Path:
    """The path of a pinned binary; raises `ToolMissingError` naming the install command."""
    path = tool_dir(tool) / tool
    if not os.access(path, os.X_OK):
        raise ToolMissingError(f"{tool} not found at {path}; {INSTALL_HINT}")
    return path


def pause_path() -> Path:
    """The sandbox program of the real node, in the cache directory named by its source hash
    (computed as `scripts/install-tools.sh` does)."""
    source = REPO_ROOT / "images" / "pause"
    digest = hashlib.sha256(
        (source / "go.mod").read_bytes() + (source / "pause.go").read_bytes()
    ).hexdigest()[:12]
    path = cache_dir() / f"pause-{digest}" / "pause"
    if not os.access(path, os.X_OK):
        raise ToolMissingError(f"pause not found at {path}; {INSTALL_HINT}")
    return path


def images_dir() -> Path:
    """Where `make images` keeps the built images, resolved as scripts/build-images.py does."""
    explicit = os.environ.get("AIRFLOW_PLATFORM_IMAGES")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "airflow-platform" / "images"


def kwok_stage_dir() -> Path:
    """The stage files that ship inside the kwok module, copied beside the binary."""
    stage = tool_dir("kwok") / "stage"
    if not stage.is_dir():
        raise ToolMissingError(f"kwok stage files not found at {stage}; {INSTALL_HINT}")
    return stage


def go_module_dir(module: str, version: str) -> Path:
    """Where the Go module cache holds ``module@version`` (the installer's `go get` put it
    there); raises `ToolMissingError` naming the install command when it is not there."""
    modcache = os.environ.get("GOMODCACHE")
    if not modcache:
        try:
            modcache = subprocess.run(
                ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError) as err:
            raise ToolMissingError(
                f"cannot ask go for its module cache ({err}); {INSTALL_HINT}"
            ) from None
    # The module cache escapes upper-case letters as '!' + lower case.
    escaped = "".join(f"!{c.lower()}" if c.isupper() else c for c in module)
    path = Path(modcache) / f"{escaped}@{version}"
    if not path.is_dir():
        raise ToolMissingError(f"{module}@{version} not in the Go module cache; {INSTALL_HINT}")
    return path


def kueue_crd_dir() -> Path:
    """The CRDs of the pinned Kueue, read from its module's source (config/components/crd)."""
    return go_module_dir("sigs.k8s.io/kueue", versions()["KUEUE_VERSION"]) / (
        "config/components/crd/bases"
    )


def kueue_rbac_dir() -> Path:
    """The pinned Kueue's RBAC manifests (config/components/rbac)."""
    return go_module_dir("sigs.k8s.io/kueue", versions()["KUEUE_VERSION"]) / (
        "config/components/rbac"
    )


def kueue_webhook_manifests() -> Path:
    """The pinned Kueue's webhook configurations (config/components/webhook)."""
    return go_module_dir("sigs.k8s.io/kueue", versions()["KUEUE_VERSION"]) / (
        "config/components/webhook/manifests.yaml"
    )
