"""A sensor (``wait_for:``) in `run --local`: the store is a local folder, polled.

The object a sensor watches is looked for at ``<artifacts root>/objects/<bucket>/<key>``
(``airflow_platform.assets.local_sensor_path``): put a file there, from another shell or an
upstream task, to let the run go on. It looks every ``poke_interval`` until ``timeout``, as
the deferred sensor on the cluster does, and fails after it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from airflow_platform.runners.local import LocalResult
from airflow_platform.spec.assets import WaitFor

TIMED_OUT = 1


def found(path: Path, prefix: bool) -> bool:
    """Whether the object is there: the file, or for a prefix any file whose key starts with it."""
    if not prefix:
        return path.is_file()
    folder, start = (path, "") if path.is_dir() else (path.parent, path.name)
    if not folder.is_dir():
        return False
    return any(
        p.is_file() and p.relative_to(folder).as_posix().startswith(start)
        for p in folder.rglob("*")
    )


def wait_locally(wait: WaitFor, path: Path, say: Callable[[str], None]) -> LocalResult:
    """Polls ``path`` as ``wait`` says; succeeds once the object is there."""
    prefix = wait.prefix is not None
    started = time.monotonic()
    deadline = started + wait.timeout.total_seconds()
    say(
        f"  waiting for {'an object under ' if prefix else ''}{path} (every "
        f"{wait.poke_interval.total_seconds():g} s, for up to {wait.timeout.total_seconds():g} s)"
    )
    while True:
        if found(path, prefix):
            return _ended(0, started, "Completed")
        left = deadline - time.monotonic()
        if left <= 0:
            return _ended(
                TIMED_OUT,
                started,
                "SensorTimeout",
                f"{path} did not appear within {wait.timeout.total_seconds():g} s; put a file "
                "there (locally the store is that folder) or raise the sensor's `timeout`",
            )
        time.sleep(min(wait.poke_interval.total_seconds(), left))


def _ended(code: int, started: float, reason: str, detail: str = "") -> LocalResult:
    return LocalResult(
        exit_code=code,
        duration_seconds=time.monotonic() - started,
        peak_memory_bytes=0,
        cpu_seconds=0.0,
        reason=reason,
        missing_secrets=(),
        detail=detail,
    )
