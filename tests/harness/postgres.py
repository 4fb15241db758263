"""A real PostgreSQL 15 (Debian's `postgresql-15`, pinned in scripts/system-packages.txt) on
loopback, for the task types that read and write a database.

The cluster is `initdb`'d into a fresh folder and run by the `postgres` user (PostgreSQL
refuses to run as root; when the tests run as another user, by that user), listening on
127.0.0.1 at a free port and on a unix socket inside its own folder, with SCRAM password
authentication. `postgresql()` stops it and removes the folder.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.harness.controlplane import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
READY_TIMEOUT = 30
USER = "platform"


class PostgresMissingError(RuntimeError):
    """PostgreSQL's binaries are not installed; the message says how to install them."""


@dataclass(frozen=True)
class Postgres:
    """A started cluster: where it listens and the one role (a superuser) with its password."""

    port: int
    password: str
    folder: Path

    def url(self, database: str = "postgres") -> str:
        """A libpq connection URL for ``database`` over loopback TCP."""
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"


def _as_owner(owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--"] if owner else []


@contextmanager
def postgresql() -> Iterator[Postgres]:
    """Starts a throwaway cluster; stops it and removes its folder on exit."""
    missing = [p.name for p in (BIN / "initdb", BIN / "pg_ctl") if not os.access(p, os.X_OK)]
    if missing:
        raise PostgresMissingError(
            f"PostgreSQL 15 is not installed ({', '.join(missing)} not in {BIN}): run "
            "`make system-packages` (it installs postgresql-15 as pinned in "
            "scripts/system-packages.txt)"
        )
    owner = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="airflow-platform-pg-"))
    password = secrets.token_hex(16)
    data = folder / "data"
    (folder / "password").write_text(password + "\n")
    if owner:
        entry = pwd.getpwnam(owner)
        for path in (folder, folder / "password"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    run = _as_owner(owner)
    subprocess.run(
        [*run, str(BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
         f"--pwfile={folder / 'password'}", "--encoding=UTF8", "--locale=C.UTF-8"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder}"
    log = folder / "server.log"
    subprocess.run(
        [*run, str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
         "-w", "-t", str(READY_TIMEOUT), "start"],
        check=True, capture_output=True, timeout=READY_TIMEOUT + 10,
    )  # fmt: skip
    try:
        server = Postgres(port, password, folder)
        _wait_ready(server)
        yield server
    finally:
        subprocess.run(
            [*run, str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(server: Postgres) -> None:
    import psycopg2

    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            psycopg2.connect(server.url(), connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL refused connections; see {server.log}") from None
            time.sleep(0.2)
