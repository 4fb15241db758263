"""Strain normalization against ComBat and stronger references, on simulated plate data.

Data sets: ``norm.simulate`` (240 strains + the parent, 6 batches × 4 plates, 3 plates per
strain, 2 replicates, 3 % failed wells, 8 % truly improved strains) in three scenarios — strong
batch effects (batch SD 1.0, plate SD 0.3 on a parent level of 10), weak (0.2, 0.1) and
multiplicative (0.5, 0.2, batch gains with log-SD 0.08) — each for the seeds in
``$BENCH_SEEDS`` (default 201,202,203; scenario i simulates seed + 1000 i). Methods
(``_norm_methods.py``): none, per-batch mean-centering, ComBat (pyComBat) on the wells as
measured and after our failure rule, the robust additive model, ours (the pipeline's failure rule
and Stan model at the pipeline's default sampler settings), the oracle. Each ends in the same
calling rule (``norm.calls``: P(effect > 5 % of the parent's level), expected FDR ≤ 5 %).

Per method and data set: RMSE of the batch effects (each batch's average shift, centred
across batches) against the truth, RMSE of the strain effects against the truth, precision,
recall and F1 of the calls against the truly improved strains (precision 1 when nothing is
called), precision and recall of the flagged failures, and the method's wall time (ours: the
failure rule, loading the cached model and sampling 4 chains on the machine's cores).

Prints ``normalization: datasets=… ours_f1=… oracle_f1=… combat_f1=… robust_f1=…
ours_batch_rmse=… combat_batch_rmse=… robust_batch_rmse=… ours_fit_s=… target=met|missed``,
then a Markdown table per scenario and over all data sets (means over the seeds). ``target``:
ours at least as good as ComBat and the robust additive model on every accuracy figure, and
its F1 within 0.03 of the oracle's on average.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jobs" / "analytics"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _norm_methods as methods
import numpy as np
import pandas as pd
from norm import calls, posterior, stanmodel
from norm.simulate import PARENT, Design, simulate

SCENARIOS = {
    "strong": {"batch_sd": 1.0, "plate_sd": 0.3},
    "weak": {"batch_sd": 0.2, "plate_sd": 0.1},
    "multiplicative": {"batch_sd": 0.5, "plate_sd": 0.2, "multiplicative_sd": 0.08},
}
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "201,202,203").split(",")]
FIGURES = [
    "batch_rmse",
    "effect_rmse",
    "precision",
    "recall",
    "f1",
    "fail_precision",
    "fail_recall",
]
LOWER_IS_BETTER = {"batch_rmse", "effect_rmse"}
F1_MARGIN = 0.03


def score(sim_truth: dict[str, pd.Series], result: methods.Result, fdr: float) -> dict[str, float]:
    tb = sim_truth["batch"] - sim_truth["batch"].mean()
    est_b = result.batch_effect - result.batch_effect.mean()
    te, improved, failed = sim_truth["effect"], sim_truth["improved"], sim_truth["failed"]
    prob = result.probability.reindex(te.index).fillna(0.0).to_numpy()
    called = calls.select(prob, fdr)
    truth = improved.to_numpy()
    tp = int(np.sum(called & truth))
    precision = tp / called.sum() if called.sum() else 1.0
    recall = tp / truth.sum()
    row = {
        "batch_rmse": float(np.sqrt(np.mean((est_b.reindex(tb.index) - tb) ** 2))),
        "effect_rmse": float(np.sqrt(np.mean((result.effect.reindex(te.index) - te) ** 2))),
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "fail_precision": np.nan,
        "fail_recall": np.nan,
        "seconds": result.seconds,
    }
    if result.flagged is not None:
        flagged = result.flagged.reindex(failed.index).to_numpy()
        hits = int(np.sum(flagged & failed.to_numpy()))
        row["fail_precision"] = hits / flagged.sum() if flagged.sum() else 1.0
        row["fail_recall"] = hits / failed.sum()
    return row


def _table(frame: pd.DataFrame) -> str:
    means = frame.groupby("method", sort=False)[[*FIGURES, "seconds"]].mean()
    head = "| method | batch RMSE | strain-effect RMSE | precision | recall | F1 | failure precision | failure recall | fit s |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for method, row in means.iterrows():
        cells = ["—" if np.isnan(row[f]) else f"{row[f]:.3f}" for f in FIGURES] + [
            f"{row['seconds']:.2f}"
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    settings = posterior.Settings()
    if not stanmodel.is_compiled():
        print("# compiling the Stan model first (not timed)", file=sys.stderr, flush=True)
        stanmodel.bake()
    rows = []
    for index, (scenario, knobs) in enumerate(SCENARIOS.items()):
        for seed in SEEDS:
            # Each scenario its own draws: the same seed would repeat strains, noise and failures.
            sim = simulate(Design(seed=seed + 1000 * index, **knobs))
            strains = sim.strains.set_index("strain").drop(PARENT)
            truth = {
                "batch": methods.true_batch_effect(sim),
                "effect": strains["effect"],
                "improved": strains["improved"],
                "failed": pd.Series(
                    sim.failures["failed"].to_numpy(), index=sim.wells["well"].to_numpy()
                ),
            }
            for name, method in methods.METHODS.items():
                started = time.monotonic()
                args = (settings,) if name == "ours" else ()
                result = method(sim, calls.MIN_IMPROVEMENT, *args)
                rows.append(
                    {"scenario": scenario, "seed": seed, "method": name}
                    | score(truth, result, calls.FDR)
                )
                print(
                    f"# {scenario} seed {seed} {name}: F1 {rows[-1]['f1']:.3f} "
                    f"({time.monotonic() - started:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    frame = pd.DataFrame(rows)
    means = frame.groupby("method")[[*FIGURES, "seconds"]].mean()
    ours = means.loc["ours"]
    met = (
        all(
            (ours[f] <= means.loc[m, f] if f in LOWER_IS_BETTER else ours[f] >= means.loc[m, f])
            for m in ("ComBat", "robust additive")
            for f in FIGURES
            if not np.isnan(means.loc[m, f])
        )
        and ours["f1"] >= means.loc["oracle", "f1"] - F1_MARGIN
    )
    print(
        f"normalization: datasets={frame[['scenario', 'seed']].drop_duplicates().shape[0]} "
        f"ours_f1={ours['f1']:.3f} oracle_f1={means.loc['oracle', 'f1']:.3f} "
        f"combat_f1={means.loc['ComBat', 'f1']:.3f} "
        f"robust_f1={means.loc['robust additive', 'f1']:.3f} "
        f"ours_batch_rmse={ours['batch_rmse']:.3f} "
        f"combat_batch_rmse={means.loc['ComBat', 'batch_rmse']:.3f} "
        f"robust_batch_rmse={means.loc['robust additive', 'batch_rmse']:.3f} "
        f"ours_fit_s={ours['seconds']:.1f} target={'met' if met else 'missed'}",
        flush=True,
    )
    for scenario in SCENARIOS:
        print(
            f"\nnormalization table: {scenario} batch effects, seeds {','.join(map(str, SEEDS))}\n"
        )
        print(_table(frame[frame["scenario"] == scenario]))
    print(f"\nnormalization table: all {len(SCENARIOS) * len(SEEDS)} data sets\n")
    print(_table(frame))
    return 0


if __name__ == "__main__":
    sys.exit(main())
