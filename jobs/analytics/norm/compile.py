"""Step compile_data: the wells table — a lab's own CSV (param ``wells``) or simulated data.

    python -m norm.compile [simulation options, see python -m norm.simulate --help]

With ``$WELLS`` set, the table it names is read and checked (``norm.wells``) and the simulation
options are ignored; the parent strain is ``$PARENT`` (default ``parent``). Otherwise a data set is
simulated and its truth written apart, to ``truth/``, for scoring (no later step reads it).
Outputs: ``wells.csv`` (well, strain, plate, batch, value) and ``source.json``.
"""

from __future__ import annotations

import argparse
import json

from norm import simulate
from norm.steps import StepError, output_dir, param_text, run_step
from norm.wells import read_wells

TASK = "compile_data"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m norm.compile", description=__doc__)
    simulate.design_arguments(parser)
    args = parser.parse_args()
    out = output_dir(TASK)
    source = param_text("wells", "")
    parent = param_text("parent", simulate.PARENT)
    if source:
        wells = read_wells(source, parent)
        for warning in wells.warnings:
            print(f"warning: {warning}")
        table = wells.table
        about = {"source": source, "parent": parent}
    else:
        design = simulate.design_from(args)
        problems = simulate.check_design(design)
        if problems:
            raise StepError("; ".join(problems))
        if parent != simulate.PARENT:
            raise StepError(
                f"param parent is {parent!r}, but simulated data name the parent "
                f"{simulate.PARENT!r}; leave parent unset, or give your own table with wells"
            )
        sim = simulate.simulate(design)
        sim.write(out / "wells.csv", out / "truth")
        table = sim.wells
        about = {"source": "simulated", "parent": parent, "seed": design.seed}
    table.to_csv(out / "wells.csv", index=False)
    about.update(
        wells=len(table),
        strains=int(table["strain"].nunique()),
        plates=int(table["plate"].nunique()),
        batches=int(table["batch"].nunique()),
    )
    (out / "source.json").write_text(json.dumps(about, indent=2) + "\n")
    print(
        f"compile_data: {about['wells']} wells of {about['strains']} strains on {about['plates']} "
        f"plates in {about['batches']} batches from {about['source']} → {out / 'wells.csv'}"
    )


if __name__ == "__main__":
    run_step(main)
