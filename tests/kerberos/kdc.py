"""A real MIT Kerberos KDC (Debian's krb5-kdc) on loopback, for the Kerberos and Spark tests.

`Kdc.start()` makes a temporary realm (kdb5_util create), adds one principal per team with
`kadmin.local`, exports each principal's keytab, writes the client `krb5.conf` and starts
`krb5kdc` in the foreground on a free loopback port (TCP and UDP). `stop()` ends it by PID and
removes the realm's files.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REALM = "AIRFLOW-PLATFORM.TEST"
INSTALL_HINT = (
    "install the pinned MIT Kerberos packages: `make system-packages` "
    "(bash scripts/install-system-packages.sh: krb5-kdc, krb5-admin-server, krb5-user)"
)
BINARIES = {
    "krb5kdc": "/usr/sbin/krb5kdc",
    "kdb5_util": "/usr/sbin/kdb5_util",
    "kadmin.local": "/usr/sbin/kadmin.local",
    "kinit": "/usr/bin/kinit",
    "klist": "/usr/bin/klist",
    "kdestroy": "/usr/bin/kdestroy",
}


class KerberosToolMissingError(RuntimeError):
    """An MIT Kerberos program is missing; the message says how to install it."""


def find_binary(name: str) -> str:
    """The path of an MIT Kerberos program, or `KerberosToolMissingError` with the fix."""
    found = shutil.which(name) or (BINARIES[name] if os.access(BINARIES[name], os.X_OK) else None)
    if not found:
        raise KerberosToolMissingError(f"`{name}` is not installed; {INSTALL_HINT}")
    return found


def _free_port() -> int:
    # The KDC listens on TCP and UDP: find a port free for both.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no loopback port free for both TCP and UDP")


@dataclass
class Kdc:
    """One realm with a principal and an exported keytab per name in ``principals``."""

    principals: tuple[str, ...] = ("svc-analytics", "svc-vision")
    realm: str = REALM
    root: Path = field(init=False)
    port: int = field(init=False, default=0)
    krb5_conf: Path = field(init=False)
    kdc_conf: Path = field(init=False)
    keytabs: dict[str, Path] = field(init=False, default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = field(init=False, default=None)

    def principal(self, name: str) -> str:
        """``name@REALM``."""
        return f"{name}@{self.realm}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for the MIT tools: this realm's client and KDC config, nothing else."""
        return {
            "PATH": os.environ.get("PATH", os.defpath) + ":/usr/sbin:/usr/bin",
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "LANG": "C",
        }

    def start(self) -> Kdc:
        for name in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist"):
            find_binary(name)
        self.root = Path(tempfile.mkdtemp(prefix="airflow-platform-kdc-"))
        self.port = _free_port()
        self.kdc_conf = self.root / "kdc.conf"
        self.krb5_conf = self.root / "krb5.conf"
        self.kdc_conf.write_text(self.kdc_conf_text())
        self.krb5_conf.write_text(self.krb5_conf_text())
        (self.root / "kadm5.acl").write_text("")
        master = secrets.token_hex(16)
        self._run("kdb5_util", "-r", self.realm, "create", "-s", "-P", master)
        self._kadmin(f"modprinc -maxrenewlife 7d krbtgt/{self.realm}@{self.realm}")
        for name in self.principals:
            keytab = self.root / f"{name}.keytab"
            self._kadmin(f"addprinc -randkey -maxrenewlife 7d {self.principal(name)}")
            self._kadmin(f"ktadd -k {keytab} {self.principal(name)}")
            self.keytabs[name] = keytab
        log = (self.root / "krb5kdc.out").open("wb")
        self._proc = subprocess.Popen(
            [find_binary("krb5kdc"), "-n", "-r", self.realm],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"krb5kdc exited: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"krb5kdc did not listen on port {self.port}: {self.log_tail()}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None
        if getattr(self, "root", None) and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        text = ""
        for name in ("krb5kdc.out", "kdc.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def kdc_conf_text(self) -> str:
        return (
            "[kdcdefaults]\n"
            f"  kdc_listen = 127.0.0.1:{self.port}\n"
            f"  kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f"  {self.realm} = {{\n"
            f"    database_name = {self.root}/principal\n"
            f"    key_stash_file = {self.root}/stash\n"
            f"    acl_file = {self.root}/kadm5.acl\n"
            "    max_life = 10h 0m 0s\n"
            "    max_renewable_life = 7d 0h 0m 0s\n"
            "    supported_enctypes = aes256-cts-hmac-sha1-96:normal "
            "aes128-cts-hmac-sha1-96:normal\n"
            "  }\n"
            "[logging]\n"
            f"  kdc = FILE:{self.root}/kdc.log\n"
        )

    def krb5_conf_text(self) -> str:
        """The client config a job pod would get from the chart's ConfigMap."""
        return (
            "[libdefaults]\n"
            f"  default_realm = {self.realm}\n"
            "  dns_lookup_kdc = false\n"
            "  dns_lookup_realm = false\n"
            "  rdns = false\n"
            "  udp_preference_limit = 1\n"
            "  ticket_lifetime = 10h\n"
            "  renew_lifetime = 7d\n"
            "[realms]\n"
            f"  {self.realm} = {{\n"
            f"    kdc = 127.0.0.1:{self.port}\n"
            "  }\n"
        )

    def _kadmin(self, query: str) -> None:
        self._run("kadmin.local", "-r", self.realm, "-q", query)

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [find_binary(tool), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args[:3])} failed: {result.stderr.strip()}")
