"""Where a run's artifacts live: ``<root>/<dag>/<run id>/<task>/<try>/``.

Each try has a folder of its own, so a retry never mixes its files with an earlier try's; a
task's folder also holds ``succeeded``, the number of the try whose outputs its downstream
tasks get (a failed try's folder stays, for debugging, but is never handed on).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ARTIFACTS_DIR_ENV = "AIRFLOW_PLATFORM_ARTIFACTS_DIR"
SUCCEEDED = "succeeded"


def default_root() -> Path:
    """``$AIRFLOW_PLATFORM_ARTIFACTS_DIR``, else this user's cache folder
    (``$XDG_CACHE_HOME/airflow-platform/artifacts``, ``~/.cache/…`` by default)."""
    given = os.environ.get(ARTIFACTS_DIR_ENV)
    if given:
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "airflow-platform" / "artifacts"


def path_part(text: str) -> str:
    """``text`` as one folder name: Airflow's run ids (``manual__2026-…T06:00:00+00:00``) are
    kept as they are; only a separator or a ``.``/``..`` name is replaced."""
    part = text.replace("/", "_").replace("\\", "_").replace("\0", "_")
    return "_" if part in ("", ".", "..") else part


@dataclass(frozen=True, slots=True)
class TaskArtifacts:
    """One try of one task: where its outputs go and which tasks' outputs it reads."""

    root: Path
    dag: str
    run_id: str
    task: str
    try_number: int = 1
    upstream: tuple[str, ...] = ()

    @property
    def run_dir(self) -> Path:
        """The run's folder, holding one folder per task."""
        return self.root / path_part(self.dag) / path_part(self.run_id)

    def task_dir(self, task: str | None = None) -> Path:
        return self.run_dir / path_part(task or self.task)

    @property
    def output_dir(self) -> Path:
        """This try's output folder."""
        return self.task_dir() / str(self.try_number)

    def succeeded_output(self, task: str) -> Path | None:
        """The outputs of the try of ``task`` that succeeded in this run, if one did."""
        marker = self.task_dir(task) / SUCCEEDED
        try:
            try_number = int(marker.read_text().strip())
        except (OSError, ValueError):
            return None
        folder = self.task_dir(task) / str(try_number)
        return folder if folder.is_dir() else None
