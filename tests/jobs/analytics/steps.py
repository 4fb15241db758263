"""Runs the strain-normalization steps as the platform will: each a process in the spec's
folder, with its own output folder and its upstream outputs under one input folder
(``AIRFLOW_PLATFORM_OUTPUT_DIR``, ``AIRFLOW_PLATFORM_INPUT_DIR``), the run's date and id set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

JOBS = Path(__file__).resolve().parents[3] / "jobs" / "analytics"
STEPS = (
    ("compile_data", "norm.compile"),
    ("detect_failures", "norm.detect"),
    ("fit_model", "norm.fit"),
    ("call_improved_strains", "norm.call"),
    ("invalidate_prior_data", "norm.invalidate"),
    ("report", "norm.report"),
)
_KEPT = ("PATH", "HOME", "LANG", "TMPDIR")
# A small simulated design, and shorter chains with limits loosened to match, for the tests of
# the whole pipeline (as processes here, as pods in tests/airflow/test_norm_pipeline_node.py).
DESIGN = [
    "--seed",
    "21",
    "--strains",
    "60",
    "--batches",
    "3",
    "--plates-per-batch",
    "3",
    "--plates-per-strain",
    "3",
    "--improved-fraction",
    "0.1",
]
# Small chains keep the tests quick on two shared cores; the limits are loosened to match.
SAMPLER = {"CHAINS": "2", "WARMUP": "300", "SAMPLES": "300", "ESS_MIN": "100", "RHAT_MAX": "1.05"}
WEBHOOK_PATH = "/services/T000/B000/secret-token"


def run_step(
    root: Path,
    task: str,
    *args: str,
    ds: str = "2026-12-01",
    run_id: str = "scheduled__2026-12-01T06:00:00+00:00",
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Runs step ``task`` with its outputs in ``root/<task>`` and its inputs read from ``root``."""
    module = dict(STEPS)[task]
    out = root / task
    out.mkdir(parents=True, exist_ok=True)
    full = {k: os.environ[k] for k in _KEPT if k in os.environ}
    full.update(
        {
            "AIRFLOW_PLATFORM_OUTPUT_DIR": str(out),
            "AIRFLOW_PLATFORM_INPUT_DIR": str(root),
            "AIRFLOW_PLATFORM_DS": ds,
            "AIRFLOW_PLATFORM_LOGICAL_DATE": f"{ds}T06:00:00+00:00",
            "AIRFLOW_PLATFORM_RUN_ID": run_id,
            "AIRFLOW_PLATFORM_DAG": "strain-normalization",
            "AIRFLOW_PLATFORM_TASK": task,
            **(env or {}),
        }
    )
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=JOBS,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
