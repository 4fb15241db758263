"""Real Prometheus, Pushgateway and Alertmanager tools from Debian, started on loopback.

Every server gets a free port and a temporary directory, and is stopped by the context
manager that started it. A missing binary fails the test with the command that installs it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.harness.controlplane import free_port

CHART_FILES = Path(__file__).resolve().parents[2] / "charts" / "airflow-platform" / "files"
INSTALL_HINT = "run `make system-packages` (scripts/install-system-packages.sh) to install it"


def binary(name: str) -> str:
    """The path of a Debian-packaged tool; fails the test (never skips) when it is missing."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if not found:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT}", pytrace=False)
    return found


def run_tool(name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Runs promtool/amtool; returns the finished process (the caller checks its code)."""
    return subprocess.run(
        [binary(name), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Server:
    """A started server: its base URL and process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _wait_ready(server: Server, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.url} exited:\n{server.log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + path, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.url} not ready in {timeout} s:\n{server.log.read_text()[-3000:]}")


@contextmanager
def _started(cmd: list[str], port: int, workdir: Path, ready: str) -> Iterator[Server]:
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(server, ready)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def statsd_exporter(workdir: Path, mapping: Path) -> Iterator[tuple[Server, int]]:
    """The real prometheus statsd-exporter (built by `make tools`) with ``mapping``; yields the
    server and its UDP StatsD port."""
    from tests.harness.tools import ToolMissingError, tool_path

    try:
        exporter = str(tool_path("statsd_exporter"))
    except ToolMissingError as err:
        pytest.fail(str(err), pytrace=False)
    workdir.mkdir(parents=True, exist_ok=True)
    web, udp = free_port(), free_port()
    cmd = [
        exporter,
        f"--statsd.mapping-config={mapping}",
        f"--statsd.listen-udp=127.0.0.1:{udp}",
        "--statsd.listen-tcp=",
        f"--web.listen-address=127.0.0.1:{web}",
    ]
    with _started(cmd, web, workdir, "/metrics") as server:
        yield server, udp


@contextmanager
def job_metrics(workdir: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    """The chart's metrics path, all real: a statsd-exporter with the chart's mapping and a
    Prometheus scraping it every second with the chart's rules. Yields that Prometheus and
    the `[metrics]` environment that points Airflow's StatsD at the exporter, as the chart's
    airflow.cfg does."""
    with statsd_exporter(workdir / "statsd", CHART_FILES / "statsd-mapping.yaml") as (
        exporter,
        udp_port,
    ):
        scrape = {
            "job_name": "statsd-exporter",
            "static_configs": [{"targets": [exporter.url.removeprefix("http://")]}],
        }
        rules = CHART_FILES / "alerts.rules.yaml"
        with prometheus(workdir / "prom", rules=rules, scrape_configs=[scrape]) as prom:
            yield (
                prom,
                {
                    "AIRFLOW__METRICS__STATSD_ON": "True",
                    "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                    "AIRFLOW__METRICS__STATSD_PORT": str(udp_port),
                    "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
                    "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True",
                },
            )


@contextmanager
def pushgateway(workdir: Path) -> Iterator[Server]:
    """A real Pushgateway on a free loopback port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        binary("prometheus-pushgateway"),
        f"--web.listen-address=127.0.0.1:{port}",
        # Debian's default persists to /var/lib/prometheus: keep each test's gateway its own.
        f"--persistence.file={workdir / 'pushgateway.data'}",
    ]
    with _started(cmd, port, workdir, "/-/ready") as server:
        yield server


@contextmanager
def prometheus(
    workdir: Path,
    scrape_url: str | None = None,
    interval: str = "1s",
    *,
    rules: Path | None = None,
    scrape_configs: list[dict[str, Any]] | None = None,
) -> Iterator[Server]:
    """A real Prometheus scraping ``scrape_url`` (a Pushgateway, honouring its labels) and any
    further ``scrape_configs`` (Prometheus's own schema), evaluating the rules file ``rules``;
    ``interval`` is both the scrape and the evaluation interval."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval}
    }
    scrapes = list(scrape_configs or [])
    if scrape_url:
        target = scrape_url.removeprefix("http://")
        scrapes.insert(
            0,
            {
                "job_name": "pushgateway",
                "honor_labels": True,
                "static_configs": [{"targets": [target]}],
            },
        )
    if scrapes:
        config["scrape_configs"] = scrapes
    if rules:
        config["rule_files"] = [str(rules)]
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [
        binary("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with _started(cmd, port, workdir, "/-/ready") as server:
        yield server


def query(server: Server, expr: str) -> list[dict[str, Any]]:
    """The instant vector ``expr`` evaluates to, through the HTTP API."""
    response = httpx.get(f"{server.url}/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def alerts(server: Server) -> list[dict[str, Any]]:
    """The alerts Prometheus holds now (pending or firing), with labels and annotations as its
    rules rendered them, through the HTTP API."""
    response = httpx.get(f"{server.url}/api/v1/alerts", timeout=5)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return found


def wait_for(server: Server, expr: str, timeout: float = 30) -> list[dict[str, Any]]:
    """Polls ``expr`` until it returns a non-empty vector; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = query(server, expr)
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"{expr} stayed empty for {timeout} s")


@contextmanager
def hanging_server() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers (a hung gateway)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        sock.close()
