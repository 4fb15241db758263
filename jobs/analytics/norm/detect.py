"""Step detect_failures: flags process failures (``norm.failures``); nothing is dropped here.

Reads ``compile_data/wells.csv``; writes ``wells.csv`` (every well, with ``failed``,
``robust_z``, ``expected`` and ``reason``), ``failures.csv`` (the flagged wells only) and
``failures.json`` (counts). Param ``failure_z`` (default 6) is the cut-off in robust SDs.
"""

from __future__ import annotations

import json

import pandas as pd

from norm.failures import FAILURE_Z, detect_failures
from norm.steps import output_dir, param_number, run_step, upstream

TASK = "detect_failures"
MANY = 0.2  # a share of flagged wells that suggests something other than sporadic failures


def main() -> None:
    z = param_number("failure_z", FAILURE_Z, 2.0, 100.0)
    wells = pd.read_csv(
        upstream("compile_data", "wells.csv"),
        dtype={"strain": str, "plate": str, "batch": str, "well": str},
    )
    out = output_dir(TASK)
    judged = detect_failures(wells, z=z)
    judged.to_csv(out / "wells.csv", index=False)
    failed = judged[judged["failed"]]
    failed.to_csv(out / "failures.csv", index=False)
    share = len(failed) / len(judged)
    summary = {
        "wells": len(judged),
        "failed": len(failed),
        "share": round(share, 4),
        "failure_z": z,
        "by_plate": {str(k): int(v) for k, v in failed.groupby("plate").size().items()},
    }
    (out / "failures.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"detect_failures: {len(failed)} of {len(judged)} wells ({share:.1%}) flagged as process "
        f"failures (|robust z| > {z:g}) → {out / 'failures.csv'}"
    )
    for _, row in failed.head(10).iterrows():
        print(
            f"  {row['well']} ({row['strain']} on {row['plate']}): {row['value']:g}, {row['reason']}"
        )
    if len(failed) > 10:
        print(f"  … {len(failed) - 10} more in failures.csv")
    if share > MANY:
        print(
            f"warning: {share:.0%} of wells flagged: more than sporadic failures — check for a "
            "failed plate or mislabelled strains (failures.json counts them by plate)"
        )


if __name__ == "__main__":
    run_step(main)
