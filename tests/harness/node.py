"""One real node for the test control plane: kubelet + containerd + runc + CNI bridge.

Job pods on this node really run: their images are the ones `make images` built from
`images/` (imported into containerd, since nothing can be pulled here), their memory limits are
enforced by cgroups, their deadlines by the kubelet, and their logs are read through the API.

Contained, because the kubelet and containerd assume they own a machine:

- **Network**: everything that talks to pods (containerd, the CNI bridge, the kubelet) runs in
  a network namespace made here, with no route off the machine and no masquerading. Its only
  links to the host are the relays of ``tests/harness/netproxy.py``: the kubelet reaches the
  API server through a listener inside the namespace, and the API server reaches the kubelet
  and pods through its egress selector.
- **Mounts**: containerd and the kubelet share a private mount namespace whose tmpfs mounts
  (over ``/run``, ``/var/lib``, ``/opt`` and ``/var/log``) hide the fixed paths they write
  outside their own folders; all of it vanishes with them. Several harnesses may run nodes at
  once: nothing is created on the machine for the mounts.
- **cgroups**: the node's processes, pods included, live under one cgroup per hierarchy
  (``airflow-platform-node-<id>``; the kubelet's ``cgroupRoot``), killed and removed on stop.
- **Sysctls** the kubelet sets on the host are saved before it starts and restored after (by
  the last of several nodes to stop).

A harness killed outright cannot clean up; the next one sweeps what a dead harness left
(``sweep_dead_nodes``), sysctls included.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.harness import tools
from tests.harness.controlplane import free_port
from tests.harness.network import BRIDGE, NODE_IP, POD_SUBNET, REAL_NODE_TAINT

if TYPE_CHECKING:
    from tests.harness.controlplane import ControlPlane

NODE_NAME = "real-node"
NODE_LABELS = {"airflow-platform.test/node-kind": "real"}
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PREFIX = "airflow-platform-node-"
NETNS_PREFIX = "ap-node-"
WORKDIR_PREFIX = "airflow-platform-node-"
CNI_BIN = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
# Host sysctls the kubelet sets at start (pkg/kubelet/cm: setupKernelTunables).
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# containerd, the CNI plugins and the kubelet write to fixed paths outside their own folders
# (/run/containerd, /run/netns, /var/lib/cni, /var/lib/kubelet, /opt/containerd, /var/log/pods,
# /var/log/containers). The node's mount namespace gets a private tmpfs over each of their
# parents, which exist on every machine: making the paths themselves on the host would leave
# them behind, and removing them would detach the mounts of another harness's node.
HIDDEN_PATHS = ("/run", "/var/lib", "/opt", "/var/log")
CADVISOR_CONTAINERD_SOCKET = Path("/run/containerd/containerd.sock")
SYSTEM_PACKAGES_HINT = "run `make system-packages` (scripts/system-packages.txt pins it)"
IMAGES_HINT = "run `make images` (scripts/build-images.py)"
OWNER_FILE = "owner.pid"
SYSCTL_FILE = "sysctls.json"


class NodeError(RuntimeError):
    """The real node failed to start; the message carries the failing component's log."""


def _require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise tools.ToolMissingError(f"{program} not found on PATH; {SYSTEM_PACKAGES_HINT}")
    return found


def image_manifest() -> dict[str, dict[str, str]]:
    """The images `make images` built: name → {ref, digest_ref, archive}."""
    path = tools.images_dir() / "manifest.json"
    if not path.is_file():
        raise tools.ToolMissingError(f"no images built yet ({path} is missing); {IMAGES_HINT}")
    images: dict[str, dict[str, str]] = json.loads(path.read_text())["images"]
    return images


def _hierarchies() -> list[Path]:
    """Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers and cgroup2)."""
    return sorted(p for p in CGROUP_ROOT.iterdir() if (p / "cgroup.procs").is_file())


def _cgroup_procs(directory: Path) -> list[int]:
    pids: list[int] = []
    for procs in directory.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            pids += [int(line) for line in procs.read_text().split()]
    return pids


def _kill_cgroup_trees(name: str) -> None:
    """SIGKILL every process under ``name`` in every hierarchy, then remove the cgroups."""
    for _ in range(50):
        pids = {pid for h in _hierarchies() for pid in _cgroup_procs(h / name)}
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for hierarchy in _hierarchies():
        root = hierarchy / name
        if not root.is_dir():
            continue
        # Children before parents: a cgroup is removed with rmdir once it is empty.
        for directory in sorted(
            (p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)
        ):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            root.rmdir()


def _owner_alive(workdir: Path) -> bool:
    try:
        os.kill(int((workdir / OWNER_FILE).read_text()), 0)
    except ProcessLookupError:
        return False
    except (OSError, ValueError):
        return True  # unreadable: leave it alone
    return True


def sweep_dead_nodes() -> None:
    """Remove what real nodes of harnesses that died without cleaning up left behind."""
    for workdir in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*"):
        if _owner_alive(workdir):
            continue
        node_id = workdir.name.removeprefix(WORKDIR_PREFIX)
        _kill_cgroup_trees(CGROUP_PREFIX + node_id)
        subprocess.run(
            ["ip", "netns", "delete", NETNS_PREFIX + node_id], capture_output=True, check=False
        )
        saved = workdir / SYSCTL_FILE
        if saved.is_file() and not _other_live_nodes(workdir):
            _restore_sysctls(json.loads(saved.read_text()))
        shutil.rmtree(workdir, ignore_errors=True)


def _other_live_nodes(own: Path) -> list[Path]:
    """Workdirs of real nodes that other running harnesses own (several may run at once)."""
    return [
        w
        for w in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*")
        if w != own and (w / OWNER_FILE).is_file() and _owner_alive(w)
    ]


def _original_sysctls(own: Path) -> dict[str, str]:
    """The machine's own values: from a running node's saved copy when there is one (the
    kubelet of that node has changed the live values already), else read now."""
    for other in _other_live_nodes(own):
        with contextlib.suppress(OSError, ValueError):
            saved: dict[str, str] = json.loads((other / SYSCTL_FILE).read_text())
            return saved
    return _read_sysctls()


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a test run stopped with `kill` still unwinds through
    the fixtures' teardown (Python's default would die at once and leave the node behind)."""
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _read_sysctls() -> dict[str, str]:
    out = {}
    for key in KUBELET_SYSCTLS:
        with contextlib.suppress(OSError):
            out[key] = (Path("/proc/sys") / key).read_text().strip()
    return out


def _restore_sysctls(saved: dict[str, str]) -> None:
    for key, value in saved.items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / key).write_text(value)


@dataclass
class _Process:
    name: str
    argv: list[str]
    log_path: Path
    cgroup: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        cgroup = self.cgroup

        def enter() -> None:
            # In the child before exec: join the node's cgroups first, so everything the
            # program starts (shims, containers) is found there on stop; die with the harness.
            if cgroup:
                pid = str(os.getpid())
                for hierarchy in _hierarchies():
                    with contextlib.suppress(OSError):
                        (hierarchy / cgroup / "cgroup.procs").write_text(pid)
            with contextlib.suppress(OSError, AttributeError):
                import ctypes

                ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=enter,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 20.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)


@dataclass
class RealNode:
    """Start with ``start()`` after the control plane; ``stop()`` leaves nothing behind."""

    plane: ControlPlane
    images: Iterable[str] = ("job-python", "krb5")
    verbose: bool = True
    name: str = NODE_NAME
    node_id: str = field(init=False, default="")
    workdir: Path = field(init=False)
    imported: list[str] = field(init=False, default_factory=list)
    startup_seconds: float = field(init=False, default=0.0)
    _processes: list[_Process] = field(init=False, default_factory=list)
    _sysctls: dict[str, str] = field(init=False, default_factory=dict)
    _netns_made: bool = field(init=False, default=False)
    _exposed: dict[int, str] = field(init=False, default_factory=dict)
    _stopped: bool = field(init=False, default=False)

    # -------------------------------------------------------------- public interface

    @property
    def netns(self) -> str:
        return NETNS_PREFIX + self.node_id

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def cgroup(self) -> str:
        return CGROUP_PREFIX + self.node_id

    @property
    def containerd_socket(self) -> Path:
        return self.workdir / "containerd.sock"

    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def start(self) -> RealNode:
        binaries = self._check_tools()
        manifest = image_manifest()
        wanted = {"pause", *self.images}
        missing = sorted(wanted - set(manifest))
        if missing:
            raise tools.ToolMissingError(f"image(s) {', '.join(missing)} not built; {IMAGES_HINT}")
        began = time.monotonic()
        _exit_cleanly_on_sigterm()
        atexit.register(self.stop)
        sweep_dead_nodes()
        self.node_id = f"{os.getpid()}-{os.urandom(2).hex()}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{self.node_id}-"))
        # The sweep finds a workdir by its prefix: rename to the exact id.
        final = self.workdir.with_name(WORKDIR_PREFIX + self.node_id)
        self.workdir.rename(final)
        self.workdir = final
        (self.workdir / OWNER_FILE).write_text(str(os.getpid()))
        self.log_dir().mkdir()
        try:
            self._sysctls = _original_sysctls(self.workdir)
            (self.workdir / SYSCTL_FILE).write_text(json.dumps(self._sysctls))
            self._make_network()
            self._make_cgroups()
            self._launch(binaries, {name: manifest[name] for name in sorted(wanted)})
        except BaseException:
            self._say(f"real node failed to start; logs kept in {self.log_dir()}")
            self.stop(keep_logs=True)
            raise
        self.startup_seconds = time.monotonic() - began
        self._say(
            f"real node {self.name} Ready in {self.startup_seconds:.1f} s "
            f"(images: {' '.join(self.imported)}; logs in {self.log_dir()})"
        )
        return self

    def stop(self, keep_logs: bool = False) -> None:
        """Stop the node and undo every change it made to the machine (idempotent)."""
        if self._stopped or not self.node_id:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        with contextlib.suppress(Exception):
            from kubernetes import client

            api_client = self.plane.api_client()
            try:
                client.CoreV1Api(api_client).delete_node(self.name)
            finally:
                api_client.close()
        by_name = {p.name: p for p in self._processes}
        for name in ("kubelet", "containerd"):
            if name in by_name:
                by_name[name].stop()
        # Containers and shims outlive containerd; the cgroups hold every one of them.
        _kill_cgroup_trees(self.cgroup)
        for process in self._processes:
            if process.name.startswith("netproxy") or process.name == "holder":
                process.stop()
        if self._netns_made:
            subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True, check=False)
        if not _other_live_nodes(self.workdir):
            # The last node out restores the machine's values (others still need the kubelet's).
            _restore_sysctls(self._sysctls)
        if keep_logs or os.environ.get("AIRFLOW_PLATFORM_KEEP_CLUSTER"):
            self._say(f"real node stopped; logs kept in {self.log_dir()}")
            for entry in self.workdir.iterdir():
                if entry.name != "logs":
                    shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def expose(self, port: int) -> str:
        """Make a host loopback TCP port reachable from pods, at ``<node IP>:<port>`` (the
        narrowest opening there is: one port, relayed by netproxy); returns that address."""
        if port in self._exposed:
            return self._exposed[port]
        relay = self._process(
            f"netproxy-{port}",
            [
                sys.executable,
                str(Path(__file__).with_name("netproxy.py")),
                f"--netns={self.netns_path}",
                f"--forward={NODE_IP}:{port}=127.0.0.1:{port}",
            ],
        )
        self._wait(relay, "its listener", lambda: "netproxy: ready" in relay.log_tail())
        self._exposed[port] = f"{NODE_IP}:{port}"
        return self._exposed[port]

    def exec_in_netns(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command inside the node's network namespace (where pod IPs are reachable)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv], text=True, check=False, **kwargs
        )

    def ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``ctr`` against the node's containerd, in the CRI namespace the kubelet uses."""
        result = subprocess.run(
            ["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise NodeError(f"ctr {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def image_refs(self) -> list[str]:
        """The image references present on the node, as containerd lists them."""
        listed = self.ctr("images", "list", "--quiet").stdout.split()
        return sorted(ref for ref in listed if not ref.startswith("sha256:"))

    def import_images(self, names: Iterable[str]) -> None:
        """Import more built images into the node (e.g. the platform image)."""
        manifest = image_manifest()
        for name in names:
            if manifest[name]["ref"] not in self.imported:
                self._import(name, manifest[name])

    # --------------------------------------------------------------------- internals

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"[real-node] {message}", file=sys.stderr, flush=True)

    def _check_tools(self) -> dict[str, str]:
        found = {
            "kubelet": str(tools.tool_path("kubelet")),
            "kube-proxy": str(tools.tool_path("kube-proxy")),
            "coredns": str(tools.tool_path("coredns")),
            "pause": str(tools.pause_path()),
        }
        for program in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip", "nsenter"):
            found[program] = _require(program)
        for plugin in CNI_PLUGINS:
            if not (CNI_BIN / plugin).is_file():
                raise tools.ToolMissingError(
                    f"CNI plugin {plugin} not found in {CNI_BIN}; {SYSTEM_PACKAGES_HINT}"
                )
        _require("iptables")
        return found

    def _run(self, *argv: str) -> None:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise NodeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")

    def _make_network(self) -> None:
        self._run("ip", "netns", "add", self.netns)
        self._netns_made = True
        ns = ("ip", "-n", self.netns)
        self._run(*ns, "link", "set", "lo", "up")
        # The pod bridge, made before the kubelet starts so that the node's address (the
        # bridge's gateway address) exists; the CNI bridge plugin adopts it.
        prefix = POD_SUBNET.split("/")[1]
        self._run(*ns, "link", "add", BRIDGE, "type", "bridge")
        self._run(*ns, "addr", "add", f"{NODE_IP}/{prefix}", "dev", BRIDGE)
        self._run(*ns, "link", "set", BRIDGE, "up")

    def _make_cgroups(self) -> None:
        for hierarchy in _hierarchies():
            for part in (self.cgroup, f"{self.cgroup}/system"):
                directory = hierarchy / part
                directory.mkdir(exist_ok=True)
                if hierarchy.name == "cpuset":
                    # A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
                    for key in ("cpuset.cpus", "cpuset.mems"):
                        value = (directory.parent / key).read_text().strip()
                        (directory / key).write_text(value)

    def _process(self, name: str, argv: list[str], cgroup: str | None = None) -> _Process:
        process = _Process(name, argv, self.log_dir() / f"{name}.log", cgroup)
        self._processes.append(process)
        process.start(self.workdir)
        return process

    def _wait(self, process: _Process, what: str, check: Any, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not process.running():
                raise NodeError(
                    f"{process.name} exited before {what}; last lines of {process.log_path}:\n"
                    f"{process.log_tail()}"
                )
            if check():
                return
            time.sleep(0.1)
        raise NodeError(
            f"{process.name}: no {what} after {timeout:.0f} s; last lines of {process.log_path}:"
            f"\n{process.log_tail()}"
        )

    def _launch(self, binaries: dict[str, str], images: dict[str, dict[str, str]]) -> None:
        missing = [p for p in HIDDEN_PATHS if not Path(p).is_dir()]
        if missing:
            raise NodeError(f"the real node needs these folders on the machine: {missing}")
        mounts = " && ".join(f"mount -t tmpfs -o mode=0755 tmpfs {p}" for p in HIDDEN_PATHS)
        # The kubelet's cAdvisor asks containerd for each container's pod, namespace and name
        # at the fixed socket path only; without these labels its series carry only cgroup ids.
        mounts += (
            f" && mkdir -p {CADVISOR_CONTAINERD_SOCKET.parent}"
            f" && ln -s {self.containerd_socket} {CADVISOR_CONTAINERD_SOCKET}"
        )
        holder = self._process(
            "holder",
            [
                binaries["nsenter"],
                f"--net={self.netns_path}",
                "--",
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                f"{mounts} && echo mounted && exec sleep infinity",
            ],
        )
        self._wait(holder, "its mounts", lambda: "mounted" in holder.log_tail())
        assert holder.process is not None
        enter = [
            binaries["nsenter"],
            f"--net={self.netns_path}",
            f"--mount=/proc/{holder.process.pid}/ns/mnt",
            "--",
        ]
        plane = self.plane
        api_port = plane.server.rsplit(":", 1)[1]
        proxy = self._process(
            "netproxy",
            [
                sys.executable,
                str(Path(__file__).with_name("netproxy.py")),
                f"--netns={self.netns_path}",
                f"--egress={plane.egress_socket}",
                f"--forward={NODE_IP}:{api_port}=127.0.0.1:{api_port}",
            ],
        )
        self._wait(proxy, "its listeners", lambda: "netproxy: ready" in proxy.log_tail())
        self._write_containerd_config(images["pause"]["ref"])
        containerd = self._process(
            "containerd",
            [*enter, binaries["containerd"], "--config", str(self.workdir / "containerd.toml")],
            cgroup=f"{self.cgroup}/system",
        )
        self._wait(
            containerd,
            "its socket",
            lambda: (
                self.containerd_socket.exists() and self.ctr("version", check=False).returncode == 0
            ),
        )
        for name, image in images.items():
            self._import(name, image)
        self._write_kubelet_files()
        kubelet = self._process(
            "kubelet",
            [
                *enter,
                binaries["kubelet"],
                f"--config={self.workdir / 'kubelet.yaml'}",
                f"--kubeconfig={self.workdir / 'kubelet.kubeconfig'}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={self.workdir / 'kubelet-pki'}",
                f"--node-ip={NODE_IP}",
                f"--hostname-override={self.name}",
                "--node-labels=" + ",".join(f"{k}={v}" for k, v in NODE_LABELS.items()),
                "--v=1",
            ],
            cgroup=f"{self.cgroup}/system",
        )
        self._wait(kubelet, "node Ready", self._ready, timeout=120)
        self._start_services(enter, binaries)

    def _start_services(self, enter: list[str], binaries: dict[str, str]) -> None:
        """kube-proxy (Service virtual IPs, by iptables inside the namespace) and CoreDNS (the
        cluster's names, at the node's address; nothing else resolves, so no query leaves)."""
        work = self.workdir
        proxy_config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(work / "kubelet.kubeconfig")},
            "mode": "iptables",
            "hostnameOverride": self.name,
            "bindAddress": NODE_IP,
            "clusterCIDR": POD_SUBNET,
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            "nodePortAddresses": [f"{NODE_IP}/32"],
            # Zero: leave the machine-wide conntrack settings as they are.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            "iptables": {"localhostNodePorts": False},
        }
        (work / "kube-proxy.yaml").write_text(yaml.safe_dump(proxy_config))
        proxy = self._process(
            "kube-proxy",
            [*enter, binaries["kube-proxy"], f"--config={work / 'kube-proxy.yaml'}", "--v=1"],
            cgroup=f"{self.cgroup}/system",
        )
        self._wait(proxy, "its Service rules", lambda: self._proxy_synced(proxy_config))
        corefile = f"""cluster.local:53 in-addr.arpa:53 {{
    bind {NODE_IP}
    errors
    kubernetes cluster.local in-addr.arpa {{
        kubeconfig {work / "kubelet.kubeconfig"}
        pods insecure
        fallthrough in-addr.arpa
    }}
    cache 10
}}
.:53 {{
    bind {NODE_IP}
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""
        (work / "Corefile").write_text(corefile)
        dns = self._process(
            "coredns",
            [*enter, binaries["coredns"], "-conf", str(work / "Corefile")],
            cgroup=f"{self.cgroup}/system",
        )
        self._wait(dns, "answering", lambda: "CoreDNS-" in dns.log_tail(), timeout=60)

    def _proxy_synced(self, config: dict[str, Any]) -> bool:
        port = config["healthzBindAddress"].rsplit(":", 1)[1]
        result = self.exec_in_netns(
            [
                "python3",
                "-c",
                f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/healthz', timeout=1)",
            ],
            capture_output=True,
        )
        return result.returncode == 0

    def _import(self, name: str, image: dict[str, str]) -> None:
        start = time.monotonic()
        self.ctr("images", "import", "--no-unpack=false", image["archive"])
        # The archive names the image by its version tag; its content-hash tag points at the
        # same image, so a test can name either.
        self.ctr("images", "tag", "--force", image["ref"], image["digest_ref"])
        self.imported.append(image["ref"])
        self._say(f"imported {image['ref']} in {time.monotonic() - start:.1f} s")

    def _write_containerd_config(self, sandbox_image: str) -> None:
        work = self.workdir
        (work / "cni" / "net.d").mkdir(parents=True)
        conflist = {
            "cniVersion": "0.4.0",
            "name": "airflow-platform-node",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    # No masquerading: pod traffic never leaves the namespace, so nothing is
                    # rewritten to look like the machine's.
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(work / "cni" / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (work / "cni" / "net.d" / "10-airflow-platform.conflist").write_text(json.dumps(conflist))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""version = 2
root = "{work / "containerd" / "root"}"
state = "{work / "containerd" / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{self.containerd_socket}"

[ttrpc]
  address = "{work / "containerd-ttrpc.sock"}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{work / "containerd" / "opt"}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  # Without it every sandbox fails here: runc cannot lower oom_score_adj on these machines
  # (no CAP_SYS_RESOURCE), see the real-node notes.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{work / "cni" / "net.d"}"
"""
        (work / "containerd.toml").write_text(config)

    def _write_kubelet_files(self) -> None:
        work = self.workdir
        plane = self.plane
        api_port = plane.server.rsplit(":", 1)[1]
        kubeconfig = yaml.safe_load(plane.kubeconfig.read_text())
        # The kubelet reaches the API server through the relay inside its namespace.
        kubeconfig["clusters"][0]["cluster"]["server"] = f"https://{NODE_IP}:{api_port}"
        (work / "kubelet.kubeconfig").write_text(yaml.safe_dump(kubeconfig))
        (work / "kubelet.kubeconfig").chmod(0o600)
        (work / "resolv.conf").write_text("")  # pods resolve nothing: no DNS traffic leaves
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "containerRuntimeEndpoint": f"unix://{self.containerd_socket}",
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": f"/{self.cgroup}",
            "failSwapOn": False,
            "failCgroupV1": False,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(plane.workdir / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "resolvConf": str(work / "resolv.conf"),
            "podLogsDir": str(work / "pod-logs"),
            # These disks are large and shared: evict only when nearly full.
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            # Nothing can be pulled back: never garbage-collect an image.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "maxPods": 60,
            "registerWithTaints": [REAL_NODE_TAINT],
            "nodeStatusUpdateFrequency": "4s",
            "syncFrequency": "10s",
            "fileCheckFrequency": "60s",
            "shutdownGracePeriod": "0s",
            "clusterDNS": [NODE_IP],
            "clusterDomain": "cluster.local",
        }
        (work / "kubelet.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def _ready(self) -> bool:
        try:
            node = self.plane._request(f"/api/v1/nodes/{self.name}")
        except Exception:
            return False
        conditions = {c["type"]: c["status"] for c in node["status"].get("conditions", [])}
        taints = {t["key"] for t in node["spec"].get("taints", [])}
        return conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints
