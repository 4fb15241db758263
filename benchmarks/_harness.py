"""Shared plumbing of the benchmarks: a throwaway Airflow home and measured child processes."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CHILD = BENCH_DIR / "_parse_child.py"


def airflow_env(home: Path, dags_folder: Path, **extra: str) -> dict[str, str]:
    """The environment of an Airflow process with a throwaway home (no database is needed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW_PARSING"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            # Parse limits generous enough that the slowest contender is measured, not cut off.
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "600",
            # dag-factory's telemetry would phone home on every parse; keep it offline.
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "True",
            "SCARF_NO_ANALYTICS": "True",
            "PYTHONDONTWRITEBYTECODE": "1",
            # The checkout first: the benches do not depend on the editable install being
            # in place at this instant (a concurrent `make` reinstalls it).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(extra)
    return env


def temp_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"airflow-platform-bench-{prefix}-"))


@dataclass
class Run:
    """One child process: its JSON report, wall time and peak RSS (from its own rusage)."""

    report: dict[str, Any]
    wall_s: float
    rss_mb: float


def run_child(args: list[str], env: dict[str, str]) -> Run:
    """Runs ``_parse_child.py`` with ``args`` in a fresh interpreter; raises if it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Both pipes are drained before waiting (the child can log a lot on stderr); the child is
    # reaped with wait4, not Popen.wait, to read its own peak RSS.
    out, err = _read_all(proc)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{err[-4000:]}")
    line = out.strip().splitlines()[-1]
    return Run(json.loads(line), wall, usage.ru_maxrss / 1024)


def _read_all(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """stdout and stderr until EOF, without reaping the child (so wait4 can read its rusage)."""
    chunks: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [
        threading.Thread(target=drain, args=(name, stream))
        for name, stream in (("out", proc.stdout), ("err", proc.stderr))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return chunks["out"], chunks["err"]


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
