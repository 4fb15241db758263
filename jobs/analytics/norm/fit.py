"""Step fit_model: the hierarchical Bayesian model (``model.stan``) on the wells not flagged.

Reads ``detect_failures/wells.csv``. Writes ``posterior.npz``/``posterior.json`` (the draws, for
call_improved_strains), ``strain_effects.csv``, ``batch_effects.json``/``.csv`` and
``metrics.prom`` (``norm.monitor``), and ``fit.json`` (sampler settings, R-hat, ESS,
divergences, R², timings). A fit whose chains did not converge writes ``fit.json`` and fails,
saying which parameters and what to change.

Params: ``chains`` (4), ``warmup`` (1000), ``samples`` (1500), ``seed`` (1), ``rhat_max`` (1.02),
``ess_min`` (400), ``batch_scale_bound`` (0.15), ``parent`` (``parent``).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from norm import monitor, posterior
from norm.steps import output_dir, param_int, param_number, param_text, run_step, upstream

TASK = "fit_model"


def settings() -> posterior.Settings:
    d = posterior.Settings()
    return posterior.Settings(
        chains=param_int("chains", d.chains, 1, 64),
        warmup=param_int("warmup", d.warmup, 10, 100_000),
        samples=param_int("samples", d.samples, 10, 100_000),
        seed=param_int("seed", d.seed, 0, 2**31 - 1),
        rhat_max=param_number("rhat_max", d.rhat_max, 1.0, 10.0),
        ess_min=param_number("ess_min", d.ess_min, 0.0, 1e9),
    )


def main() -> None:
    chosen = settings()
    parent = param_text("parent", "parent")
    bound = param_number("batch_scale_bound", monitor.BATCH_SCALE_BOUND, 0.0, 100.0)
    wells = pd.read_csv(
        upstream("detect_failures", "wells.csv"),
        dtype={"strain": str, "plate": str, "batch": str, "well": str},
    )
    kept = wells[~wells["failed"]]
    out = output_dir(TASK)
    print(
        f"fit_model: {len(kept)} wells ({len(wells) - len(kept)} failures left out), "
        f"{chosen.chains} chains × {chosen.warmup} warmup + {chosen.samples} draws",
        flush=True,
    )
    post = posterior.fit(kept, parent, chosen)
    conv = post.convergence
    assert conv is not None
    report = {
        "wells": len(kept),
        "failures_left_out": len(wells) - len(kept),
        "strains": len(post.strains),
        "plates": len(post.plates),
        "batches": len(post.batches),
        "settings": chosen.__dict__,
        "rhat_max": round(conv.rhat_max, 4),
        "ess_bulk_min": round(conv.ess_bulk_min, 1),
        "ess_tail_min": round(conv.ess_tail_min, 1),
        "divergences": conv.divergences,
        "converged": not conv.problems,
        "problems": conv.problems,
        "r_squared": round(post.r_squared, 4),
        "sigma": round(float(np.mean(post.sigma)), 6),
        "nu": round(float(np.mean(post.nu)), 3),
        "seconds": post.seconds,
    }
    (out / "fit.json").write_text(json.dumps(report, indent=2) + "\n")
    conv.check()
    post.save(out)
    effects = pd.DataFrame(
        {
            "strain": post.strains,
            "wells": kept.groupby("strain").size().reindex(post.strains).to_numpy(),
            "effect": post.effect.mean(axis=1),
            "sd": post.effect.std(axis=1),
            "q05": np.quantile(post.effect, 0.05, axis=1),
            "q95": np.quantile(post.effect, 0.95, axis=1),
        }
    )
    effects.round(6).to_csv(out / "strain_effects.csv", index=False)
    batch = monitor.batch_effects(post, bound)
    monitor.write_artifacts(out, batch)
    pushed = monitor.publish(
        out, batch, os.environ.get("AIRFLOW_PLATFORM_DAG", "strain-normalization")
    )
    print(
        f"fit_model: converged (R-hat ≤ {conv.rhat_max:.3f}, bulk ESS ≥ {conv.ess_bulk_min:.0f}, "
        f"tail ESS ≥ {conv.ess_tail_min:.0f}, {conv.divergences} divergent transitions); "
        f"R² {post.r_squared:.3f}; sampled in {post.seconds['sample']:.1f} s"
    )
    print(
        f"fit_model: batch-effect scale {batch['batch_scale']['mean']:.3g} "
        f"({batch['batch_scale_ratio']:.1%} of the parent's level "
        f"{batch['parent_level']:.3g}; bound {bound:.0%}); {pushed}"
    )
    if batch["above_bound"]:
        print(
            f"warning: the batch-effect scale is above its bound ({batch['batch_scale_ratio']:.1%} "
            f"> {bound:.0%}): see docs/runbooks/StrainBatchEffectScaleHigh.md"
        )
    if conv.divergences:
        print(
            f"warning: {conv.divergences} divergent transitions: the posterior may be biased; "
            "see docs/normalization.md#convergence"
        )


if __name__ == "__main__":
    run_step(main)
