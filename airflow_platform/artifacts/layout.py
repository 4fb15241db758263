"""Where a run's artifacts live: ``<root>/<dag>/<run id>/<task>/<try>/``, and for each
combination ``i`` of a sweep (``matrix:``) ``<root>/<dag>/<run id>/<task>/<i>/<try>/``.

Each try has a folder of its own, so a retry never mixes its files with an earlier try's; a
task's folder (a combination's, in a sweep) also holds ``succeeded``, the number of the try
whose outputs its downstream tasks get (a failed try's folder stays, for debugging, but is
never handed on). A combination's folder holds its values too, in ``matrix.json``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from airflow_platform.config import format_memory

ARTIFACTS_DIR_ENV = "AIRFLOW_PLATFORM_ARTIFACTS_DIR"
SUCCEEDED = "succeeded"
MATRIX_FILE = "matrix.json"
"""A combination's values (``{"lr": 0.1}``) beside its tries; downstream tasks get the list of
every combination's index and values as ``$AIRFLOW_PLATFORM_INPUT_DIR/<task>/matrix.json``."""


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


def object_prefix(
    root: str, dag: str, run_id: str, task: str, try_number: int, map_index: int | None = None
) -> str:
    """The store's key prefix of one try's outputs: ``<root>/<dag>/<run id>/<task>/<try>/``
    (``<task>/<map index>/<try>/`` for a combination of a sweep)."""
    parts = [path_part(p) for p in (dag, run_id, task)]
    if map_index is not None:
        parts.append(str(map_index))
    return "/".join([*([root] if root else []), *parts, str(try_number)]) + "/"


def kept_files(folder: Path, globs: Sequence[str] | None) -> list[Path]:
    """The files of ``folder`` a task keeps: all of them, or those its ``outputs:`` globs
    match (a matched folder keeps everything in it). Symbolic links are never kept: they
    would point outside the folder, or nowhere once it is moved."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    if globs is None:
        return sorted(files)
    kept: set[Path] = set()
    for pattern in globs:
        for match in folder.glob(pattern):
            if match.is_dir() and not match.is_symlink():
                kept.update(p for p in match.rglob("*") if p.is_file() and not p.is_symlink())
            elif match.is_file() and not match.is_symlink():
                kept.add(match)
    return sorted(kept)


def too_large(task: str, size: int, cap: str, where: str) -> str:
    """The message of a task that kept more than the platform's per-task cap."""
    return (
        f"task {task} left {format_memory(size)} ({size} bytes) in "
        f"$AIRFLOW_PLATFORM_OUTPUT_DIR, more than the platform's cap of {cap} per task "
        "(policy.max_task_artifacts); keep less, or list only what downstream tasks need "
        f"under `outputs:`. What it wrote is {where}"
    )


@dataclass(frozen=True, slots=True)
class TaskArtifacts:
    """One try of one task: where its outputs go and which tasks' outputs it reads."""

    root: Path
    dag: str
    run_id: str
    task: str
    try_number: int = 1
    upstream: tuple[str, ...] = ()
    map_index: int | None = None
    """The combination of a sweep this try runs (``None`` for a task without ``matrix:``)."""

    @property
    def run_dir(self) -> Path:
        """The run's folder, holding one folder per task."""
        return self.root / path_part(self.dag) / path_part(self.run_id)

    def task_dir(self, task: str | None = None) -> Path:
        return self.run_dir / path_part(task or self.task)

    @property
    def instance_dir(self) -> Path:
        """The folder of this task's tries: the task's, or its combination's in a sweep."""
        folder = self.task_dir()
        return folder if self.map_index is None else folder / str(self.map_index)

    @property
    def output_dir(self) -> Path:
        """This try's output folder."""
        return self.instance_dir / str(self.try_number)

    def succeeded_output(self, task: str, map_index: int | None = None) -> Path | None:
        """The outputs of the try of ``task`` (of its combination ``map_index``) that
        succeeded in this run, if one did."""
        folder = self.task_dir(task)
        if map_index is not None:
            folder = folder / str(map_index)
        try:
            try_number = int((folder / SUCCEEDED).read_text().strip())
        except (OSError, ValueError):
            return None
        folder = folder / str(try_number)
        return folder if folder.is_dir() else None

    def combinations(self, task: str) -> list[int]:
        """The map indexes of a sweep's combinations that ran in this run (none for a task
        without ``matrix:``), in order."""
        found = self.task_dir(task).glob(f"*/{MATRIX_FILE}")
        return sorted(int(p.parent.name) for p in found if p.parent.name.isdigit())
