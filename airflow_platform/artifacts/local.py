"""Staging a task's artifacts for the local runner: an empty output folder, copies of the
upstream tasks' outputs (read-only), and after the run the ``outputs:`` globs and the cap.

Inputs are copies, not links, so a task can neither change what its upstream task kept nor
read another try's files; the copies are made read-only (files 0444, folders 0555), which is
as far as an unprivileged process can go (the owner may still chmod them back).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from airflow_platform.artifacts.layout import (
    SUCCEEDED,
    TaskArtifacts,
    kept_files,
    path_part,
    too_large,
)


class ArtifactsTooLargeError(Exception):
    """A task kept more than the platform's per-task cap; the message names the cap."""


@contextmanager
def staged(task: TaskArtifacts) -> Iterator[tuple[Path, Path]]:
    """Yields the try's (empty) output folder and an input folder holding a read-only copy
    of each upstream task's succeeded outputs; the input folder is removed afterwards."""
    out = task.output_dir
    if out.exists():  # a try run again under the same number (a local re-run): start empty
        _make_writable(out)
        shutil.rmtree(out)
    out.mkdir(parents=True)
    inputs = Path(tempfile.mkdtemp(prefix=f"airflow-platform-{path_part(task.task)}-input-"))
    try:
        for name in task.upstream:
            source = task.succeeded_output(name)
            if source is not None:
                shutil.copytree(source, inputs / path_part(name))
        _make_read_only(inputs)
        yield out, inputs
    finally:
        _make_writable(inputs)
        shutil.rmtree(inputs, ignore_errors=True)


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
    (task.task_dir() / SUCCEEDED).write_text(f"{task.try_number}\n")
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
