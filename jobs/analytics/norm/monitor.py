"""The batch effects as a monitored signal: an artifact, Prometheus gauges and a bound.

Every fit publishes the estimated batch-effect scale (the SD of batch offsets) and each batch's
offset in ``batch_effects.json`` / ``batch_effects.csv``, and as gauges — the scale, the plate
scale and the largest batch offset, each as a fraction of the parent's level so that one bound
fits any unit — in ``metrics.prom`` (text exposition) and, when ``$PUSHGATEWAY_URL`` (else
``$AIRFLOW_PLATFORM_PUSHGATEWAY_URL``) is set, to that Pushgateway, grouped by ``job`` and
``dag``. The configured bound (param ``batch_scale_bound``, default 0.15) is published beside
the scale; the alert ``StrainBatchEffectScaleHigh`` (charts/airflow-platform/files/
alerts.rules.yaml, runbook docs/runbooks/StrainBatchEffectScaleHigh.md) fires when the scale
is above it. Per-batch offsets are not gauges: batches are days, an unbounded label set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from norm.posterior import Posterior

PUSH_JOB = "strain_normalization"
BATCH_SCALE_BOUND = 0.15
PUSH_TIMEOUT_SECONDS = 5.0


def _interval(draws: np.ndarray) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(draws)), 6),
        "q05": round(float(np.quantile(draws, 0.05)), 6),
        "q95": round(float(np.quantile(draws, 0.95)), 6),
    }


def batch_effects(post: Posterior, bound: float) -> dict[str, Any]:
    """The batch-effect summary written to ``batch_effects.json``."""
    level = float(np.mean(post.level))
    offsets = post.batch_offset
    scale = _interval(post.batch_scale)
    relative = scale["mean"] / level if level else float("inf")
    return {
        "parent_level": round(level, 6),
        "batch_scale": scale,
        "batch_scale_ratio": round(relative, 6),
        "batch_scale_bound_ratio": bound,
        "above_bound": bool(relative > bound),
        "plate_scale": _interval(post.plate_scale),
        "batches": [
            {"batch": b, **_interval(offsets[i]), "plates": post.plate_batch.count(i)}
            for i, b in enumerate(post.batches)
        ],
    }


def write_artifacts(folder: Path, summary: dict[str, Any]) -> None:
    (folder / "batch_effects.json").write_text(json.dumps(summary, indent=2) + "\n")
    pd.DataFrame(summary["batches"]).rename(columns={"mean": "offset"}).to_csv(
        folder / "batch_effects.csv", index=False
    )


def registry(summary: dict[str, Any]) -> CollectorRegistry:
    """The gauges of one fit."""
    reg = CollectorRegistry()
    level = summary["parent_level"] or float("nan")

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, registry=reg).set(value)

    gauge(
        "strain_norm_batch_effect_scale_ratio",
        "Estimated SD of batch offsets (posterior mean), as a fraction of the parent's level.",
        summary["batch_scale_ratio"],
    )
    gauge(
        "strain_norm_batch_effect_scale_bound_ratio",
        "The configured bound of the batch-effect scale (param batch_scale_bound).",
        summary["batch_scale_bound_ratio"],
    )
    gauge(
        "strain_norm_plate_effect_scale_ratio",
        "Estimated SD of plate offsets within a batch, as a fraction of the parent's level.",
        summary["plate_scale"]["mean"] / level,
    )
    gauge(
        "strain_norm_batch_offset_max_abs_ratio",
        "The largest absolute batch offset of this fit, as a fraction of the parent's level.",
        max(abs(b["mean"]) for b in summary["batches"]) / level,
    )
    gauge(
        "strain_norm_last_fit_timestamp_seconds",
        "When the latest fit finished (Unix time).",
        time.time(),
    )
    return reg


def publish(folder: Path, summary: dict[str, Any], dag: str) -> str:
    """Writes ``metrics.prom`` and pushes the gauges when a Pushgateway is named; says what
    happened (a failed push is reported, never raised: monitoring must not fail the fit)."""
    reg = registry(summary)
    write_to_textfile(str(folder / "metrics.prom"), reg)
    url = os.environ.get("PUSHGATEWAY_URL") or os.environ.get("AIRFLOW_PLATFORM_PUSHGATEWAY_URL")
    if not url:
        return "no Pushgateway named (PUSHGATEWAY_URL): gauges written to metrics.prom only"
    try:
        push_to_gateway(
            url, job=PUSH_JOB, registry=reg, grouping_key={"dag": dag}, timeout=PUSH_TIMEOUT_SECONDS
        )
    except Exception as exc:  # any failure of the push is reported, the fit stands
        return f"warning: gauges not pushed to the Pushgateway: {type(exc).__name__}: {exc}"
    return f"gauges pushed to the Pushgateway (job={PUSH_JOB}, dag={dag})"
