"""Staging a task's artifacts for the local runner: an empty output folder, copies of the
upstream tasks' outputs (read-only), and after the run the ``outputs:`` globs and the cap.

Inputs are copies, not links, so a task can neither change what its upstream task kept nor
read another try's files; the copies are made read-only (files 0444, folders 0555), which is
as far as an unprivileged process can go (the owner may still chmod them back).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from airflow_platform.artifacts.layout import (
    MATRIX_FILE,
    SUCCEEDED,
    TaskArtifacts,
    kept_files,
    path_part,
    too_large,
)
from airflow_platform.spec.params import Scalar


class ArtifactsTooLargeError(Exception):
    """A task kept more than the platform's per-task cap; the message names the cap."""


@contextmanager
def staged(
    task: TaskArtifacts, matrix: Mapping[str, Scalar] | None = None
) -> Iterator[tuple[Path, Path]]:
    """Yields the try's (empty) output folder and an input folder holding a read-only copy
    of each upstream task's succeeded outputs; the input folder is removed afterwards.
    ``matrix``: the values of the sweep's combination this try runs (kept beside it)."""
    out = task.output_dir
    if task.map_index is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        (out.parent / MATRIX_FILE).write_text(json.dumps(matrix or {}) + "\n")
    if out.exists():  # a try run again under the same number (a local re-run): start empty
        _make_writable(out)
        shutil.rmtree(out)
    out.mkdir(parents=True)
    inputs = Path(tempfile.mkdtemp(prefix=f"airflow-platform-{path_part(task.task)}-input-"))
    try:
        for name in task.upstream:
            indexes = task.combinations(name)
            if indexes:
                _stage_sweep(task, name, indexes, inputs / path_part(name))
                continue
            source = task.succeeded_output(name)
            if source is not None:
                shutil.copytree(source, inputs / path_part(name))
        _make_read_only(inputs)
        yield out, inputs
    finally:
        _make_writable(inputs)
        shutil.rmtree(inputs, ignore_errors=True)


def _stage_sweep(task: TaskArtifacts, name: str, indexes: list[int], into: Path) -> None:
    """A sweep's succeeded combinations under ``into/<i>/``, their values in ``matrix.json``."""
    into.mkdir()
    listed = []
    for index in indexes:
        source = task.succeeded_output(name, index)
        if source is None:
            continue
        shutil.copytree(source, into / str(index))
        values = json.loads((task.task_dir(name) / str(index) / MATRIX_FILE).read_text())
        listed.append({"index": index, "values": values})
    (into / MATRIX_FILE).write_text(json.dumps(listed, indent=1) + "\n")


def finish(task: TaskArtifacts, outputs: Sequence[str] | None, cap: str, cap_bytes: int) -> int:
    """After a try that succeeded: keeps only what ``outputs`` matches, checks the cap and
    marks the try as the one downstream tasks read. Returns the bytes kept.

    Raises ``ArtifactsTooLargeError`` (the files stay, for debugging, but are not handed on).
    """
    out = task.output_dir
    kept = kept_files(out, outputs)
    if outputs is not None:
        _keep_only(out, set(kept))
    size = sum(p.lstat().st_size for p in kept)
    if size > cap_bytes:
        raise ArtifactsTooLargeError(too_large(task.task, size, cap, f"still in {out}"))
    (task.instance_dir / SUCCEEDED).write_text(f"{task.try_number}\n")
    return size


def _keep_only(out: Path, kept: set[Path]) -> None:
    for path in sorted(out.rglob("*"), reverse=True):  # children before their folders
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif path not in kept:
            path.unlink()


def _make_read_only(folder: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(folder, topdown=False):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        for name in dirnames:
            if not (Path(dirpath) / name).is_symlink():
                (Path(dirpath) / name).chmod(0o555)
    folder.chmod(0o555)


def _make_writable(folder: Path) -> None:
    if not folder.exists():
        return
    folder.chmod(0o755)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                path.chmod(0o755)
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_symlink():
                path.chmod(0o644)
