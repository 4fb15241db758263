"""Step call_improved_strains: strains that beat the parent, with false discoveries controlled.

Reads ``fit_model/posterior.*``. Writes ``improved_strains.csv`` (``strain, probability,
effect``: the called strains, most probable first), ``strain_calls.csv`` (every strain, with
``called``) and ``calls.json``. The rule is ``norm.calls``: P(effect > min_improvement × the
parent's level), called in order while the expected false-discovery rate stays ≤ ``fdr``.

Params: ``min_improvement`` (0.05, a fraction of the parent's level), ``fdr`` (0.05).
"""

from __future__ import annotations

import json

import numpy as np

from norm import calls
from norm.posterior import Posterior
from norm.steps import StepError, output_dir, param_number, run_step, upstream

TASK = "call_improved_strains"


def main() -> None:
    min_improvement = param_number("min_improvement", calls.MIN_IMPROVEMENT, 0.0, 10.0)
    fdr = param_number("fdr", calls.FDR, 0.0, 1.0)
    upstream("fit_model", "posterior.npz")
    post = Posterior.load(upstream("fit_model", "posterior.json").parent)
    level = float(np.mean(post.level))
    if level <= 0:
        raise StepError(
            f"the parent's level is {level:g}: min_improvement is a fraction of it, which needs "
            "a positive level; shift the values (e.g. a titre, not a log-ratio)"
        )
    probability = calls.draw_probability(post.effect[1:], post.level, min_improvement)
    called = calls.select(probability, fdr)
    table = calls.calls_table(post.strains[1:], probability, post.effect[1:].mean(axis=1), called)
    out = output_dir(TASK)
    table.round(6).to_csv(out / "strain_calls.csv", index=False)
    improved = table[table["called"]][["strain", "probability", "effect"]]
    improved.round(6).to_csv(out / "improved_strains.csv", index=False)
    summary = {
        "improved": len(improved),
        "strains": len(table),
        "min_improvement": min_improvement,
        "threshold": round(min_improvement * level, 6),
        "parent_level": round(level, 6),
        "fdr": fdr,
        "expected_false_discoveries": round(calls.expected_false(probability, called), 3),
    }
    (out / "calls.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"call_improved_strains: {len(improved)} of {len(table)} strains improve on the parent by "
        f"more than {min_improvement:.0%} ({summary['threshold']:.3g}) at expected FDR ≤ {fdr:.0%} "
        f"(expected false: {summary['expected_false_discoveries']:.2f}) → "
        f"{out / 'improved_strains.csv'}"
    )
    for _, row in improved.head(10).iterrows():
        print(f"  {row['strain']}: +{row['effect']:.3g} (P = {row['probability']:.3f})")
    if len(improved) > 10:
        print(f"  … {len(improved) - 10} more in improved_strains.csv")


if __name__ == "__main__":
    run_step(main)
