"""What the task types' programs share: their parameters from the command line, the database
connection from the environment, the output folder."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

OUTPUT_DIR_ENV = "AIRFLOW_PLATFORM_OUTPUT_DIR"


class TaskTypeError(RuntimeError):
    """A run that cannot go on; its message is what the task log shows."""


def parameters(argv: Sequence[str] | None, prog: str) -> dict[str, Any]:
    """The JSON object after ``--parameters`` (``airflow_platform.tasktypes.calls``)."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--parameters", required=True, help="the task's parameters, as JSON")
    args = parser.parse_args(argv)
    value = json.loads(args.parameters)
    if not isinstance(value, dict):
        raise TaskTypeError("--parameters must be a JSON object")
    return value


def run(
    prog: str,
    action: Callable[[dict[str, Any]], object],
    argv: Sequence[str] | None,
    errors: tuple[type[Exception], ...] = (),
) -> int:
    """A program's exit status: ``action`` on its parameters; a ``TaskTypeError`` or one of
    ``errors`` is one line on stderr (the task log's reason) and exit 1, never a traceback."""
    caught: tuple[type[Exception], ...] = (TaskTypeError, *errors)
    try:
        action(parameters(argv, prog))
    except caught as exc:
        print(f"{prog}: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


def dsn(variable: str) -> str:
    """The libpq connection URL in ``variable`` (set from a Secret by the task's `secrets:`)."""
    value = os.environ.get(variable)
    if not value:
        raise TaskTypeError(
            f"${variable} is not set: reference the Secret holding the database URL in the "
            f"task's `secrets:`, e.g. {{name: trips-db, key: url, env: {variable}}}"
        )
    return value


def output_file(name: str) -> Path:
    """``name`` inside the task's output folder (never outside it)."""
    folder = Path(os.environ.get(OUTPUT_DIR_ENV, "."))
    target = folder / name
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise TaskTypeError(f"output '{name}' must be a file name inside the output folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
