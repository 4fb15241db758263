"""What every step shares: where it reads and writes, the run's date and id, its parameters.

The platform's run artifacts: a step writes what it produces into ``$AIRFLOW_PLATFORM_OUTPUT_DIR``
and reads its upstream steps' outputs under ``$AIRFLOW_PLATFORM_INPUT_DIR/<upstream task>/``.
The run's date is ``$AIRFLOW_PLATFORM_DS`` and its id ``$AIRFLOW_PLATFORM_RUN_ID``; the pipeline's
params arrive as upper-case environment variables (``min_improvement`` → ``MIN_IMPROVEMENT``).

A step started by hand, outside the platform (``python -m norm.compile``), has neither folder:
it keeps its outputs under ``norm-data/<task>/`` in the working folder and reads upstream
outputs from there.

A step's expected failures (bad input, a sampler that did not converge) are ``StepError``:
``run_step`` prints the message, without a traceback, and exits 1.
"""

from __future__ import annotations

import math
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

OUTPUT_ENV = "AIRFLOW_PLATFORM_OUTPUT_DIR"
INPUT_ENV = "AIRFLOW_PLATFORM_INPUT_DIR"
DS_ENV = "AIRFLOW_PLATFORM_DS"
RUN_ID_ENV = "AIRFLOW_PLATFORM_RUN_ID"
FALLBACK_ROOT = Path("norm-data")


class StepError(Exception):
    """A failure the step explains in its message (bad input, no convergence, ...)."""


def _fallback_root() -> Path:
    return FALLBACK_ROOT


def output_dir(task: str) -> Path:
    """This step's (existing) output folder."""
    given = os.environ.get(OUTPUT_ENV)
    path = Path(given) if given else _fallback_root() / task
    path.mkdir(parents=True, exist_ok=True)
    return path


def upstream(task: str, name: str) -> Path:
    """The file ``name`` that the upstream step ``task`` wrote; a StepError when it is missing."""
    given = os.environ.get(INPUT_ENV)
    root = Path(given) if given else _fallback_root()
    path = root / task / name
    if not path.exists():
        raise StepError(
            f"{path}: not found: this step reads {name} from its upstream task {task}; "
            f"list {task} in its depends_on and check that {task} succeeded"
        )
    return path


def run_date() -> str:
    """The run's date (``YYYY-MM-DD``); today's (UTC) when the platform did not give one."""
    return os.environ.get(DS_ENV) or datetime.now(UTC).date().isoformat()


def run_id() -> str:
    """The run's id; a fresh ``local-…`` id when the platform did not give one."""
    return os.environ.get(RUN_ID_ENV) or f"local-{run_date()}-{uuid.uuid4().hex[:8]}"


def param_text(name: str, default: str) -> str:
    """The param ``name`` (its upper-case environment variable), else ``default``."""
    return os.environ.get(name.upper(), "").strip() or default


def param_number(name: str, default: float, low: float, high: float) -> float:
    """A numeric param within ``[low, high]``; a StepError naming it when it is not."""
    text = param_text(name, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (low <= value <= high):
        raise StepError(
            f"param {name} (${name.upper()}): {text!r} is not a number from {low:g} to {high:g}; "
            f"the default is {default:g}"
        )
    return value


def param_int(name: str, default: int, low: int, high: int) -> int:
    """An integer param within ``[low, high]``."""
    value = param_number(name, float(default), low, high)
    if not value.is_integer():
        raise StepError(f"param {name} (${name.upper()}): {value:g} is not a whole number")
    return int(value)


def run_step(step: Callable[[], None]) -> None:
    """Runs ``step``; a StepError becomes its message on stderr and exit status 1."""
    try:
        step()
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
