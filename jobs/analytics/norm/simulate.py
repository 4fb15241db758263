"""Simulated plate data with a known truth: strains, plates, batches, offsets, failures.

Each batch (a day) runs ``plates_per_batch`` plates. The parent strain fills ``parent_wells``
wells of every plate (the control); every other strain sits on ``plates_per_strain`` plates of
different batches, ``replicates`` wells each, so each plate holds only a fraction of the strains
(the strain × plate table is mostly empty). A well measures

    value = (level + effect[strain] + batch_offset[batch] + plate_offset[plate]) * gain[batch]
            + noise,        noise ~ noise_sd * Student-t(noise_df)

with batch and plate offsets drawn from normal populations (``batch_sd``, ``plate_sd``) and
multiplicative batch gains ``gain = exp(N(0, multiplicative_sd))`` (1 when that is 0). Most
strains are no better than the parent (effects ``min(0, N(-0.02, 0.03))`` × level); a fraction
``improved_fraction`` is truly improved by 8–20 % of the level. A fraction ``failure_rate`` of
wells (parent wells too) are process failures: 70 % drop-outs (the value falls to 0–40 % of what
it would have been), 30 % spikes (130–250 %).

``python -m norm.simulate --out wells.csv --truth truth/`` writes the wells table and, apart,
the truth (``strains.csv``, ``batches.csv``, ``plates.csv``, ``wells.csv``, ``design.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

PARENT = "parent"
ROWS = "ABCDEFGH"


@dataclass(frozen=True)
class Design:
    """Everything that shapes a simulated data set; ``seed`` makes it reproducible."""

    seed: int = 7
    strains: int = 240
    batches: int = 6
    plates_per_batch: int = 4
    plates_per_strain: int = 3
    replicates: int = 2
    parent_wells: int = 8
    level: float = 10.0
    noise_sd: float = 0.35
    noise_df: float = 5.0
    batch_sd: float = 1.0
    plate_sd: float = 0.3
    multiplicative_sd: float = 0.0
    improved_fraction: float = 0.08
    failure_rate: float = 0.03
    first_day: str = "2026-11-02"


@dataclass(frozen=True)
class Simulated:
    """The wells table a lab would have, and the truth behind it."""

    wells: pd.DataFrame  # well, strain, plate, batch, value
    strains: pd.DataFrame  # strain, effect, improved (the parent: effect 0)
    batches: pd.DataFrame  # batch, offset, gain
    plates: pd.DataFrame  # plate, batch, offset
    failures: pd.DataFrame  # well, failed, kind ("" when not failed)
    design: Design

    def write(self, wells_path: Path, truth_dir: Path) -> None:
        """Writes the wells table to ``wells_path`` and the truth into ``truth_dir``."""
        wells_path.parent.mkdir(parents=True, exist_ok=True)
        truth_dir.mkdir(parents=True, exist_ok=True)
        self.wells.to_csv(wells_path, index=False)
        self.strains.to_csv(truth_dir / "strains.csv", index=False)
        self.batches.to_csv(truth_dir / "batches.csv", index=False)
        self.plates.to_csv(truth_dir / "plates.csv", index=False)
        self.failures.to_csv(truth_dir / "wells.csv", index=False)
        (truth_dir / "design.json").write_text(json.dumps(asdict(self.design), indent=2) + "\n")


def _layout(d: Design, rng: np.random.Generator) -> list[list[int]]:
    """The strains (0-based) on each plate: each strain on plates of distinct batches, the
    plates as evenly loaded as possible."""
    n_plates = d.batches * d.plates_per_batch
    load = np.zeros(n_plates, dtype=int)
    on_plate: list[list[int]] = [[] for _ in range(n_plates)]
    per_strain = min(d.plates_per_strain, n_plates)
    for s in rng.permutation(d.strains):
        chosen: list[int] = []
        batches_used: set[int] = set()
        for _ in range(per_strain):
            # The least-loaded plate, preferring batches this strain is not in yet; ties at random.
            candidates = [int(p) for p in rng.permutation(n_plates) if p not in chosen]
            best = min(candidates, key=lambda p: (p // d.plates_per_batch in batches_used, load[p]))
            chosen.append(best)
            batches_used.add(best // d.plates_per_batch)
            load[best] += 1
        for p in chosen:
            on_plate[p].append(int(s))
    return on_plate


def _well_names(plate: str, count: int) -> list[str]:
    if count <= 96:
        return [f"{plate}-{ROWS[i // 12]}{i % 12 + 1:02d}" for i in range(count)]
    return [f"{plate}-{i + 1:04d}" for i in range(count)]


def simulate(d: Design) -> Simulated:
    """One data set drawn from ``d``."""
    rng = np.random.default_rng(d.seed)
    width = len(str(d.strains))
    names = [f"S{i + 1:0{width}d}" for i in range(d.strains)]
    n_improved = round(d.improved_fraction * d.strains)
    improved = set(rng.choice(d.strains, size=n_improved, replace=False).tolist())
    effects = np.minimum(0.0, rng.normal(-0.02, 0.03, d.strains)) * d.level
    for s in improved:
        effects[s] = rng.uniform(0.08, 0.20) * d.level

    day0 = date.fromisoformat(d.first_day)
    batch_names = [(day0 + timedelta(days=2 * b)).isoformat() for b in range(d.batches)]
    batch_offset = rng.normal(0.0, d.batch_sd, d.batches)
    gains = np.exp(rng.normal(0.0, d.multiplicative_sd, d.batches))
    n_plates = d.batches * d.plates_per_batch
    plate_names = [f"P{p + 1:02d}" for p in range(n_plates)]
    plate_offset = rng.normal(0.0, d.plate_sd, n_plates)

    rows: list[tuple[str, str, str, str, float, bool, str]] = []
    for p, strains_here in enumerate(_layout(d, rng)):
        b = p // d.plates_per_batch
        contents = [-1] * d.parent_wells + [s for s in strains_here for _ in range(d.replicates)]
        order = rng.permutation(len(contents))
        wells = _well_names(plate_names[p], len(contents))
        for position, index in enumerate(order):
            s = contents[index]
            effect = 0.0 if s < 0 else effects[s]
            mean = (d.level + effect + batch_offset[b] + plate_offset[p]) * gains[b]
            noise = d.noise_sd * (
                rng.standard_normal() if np.isinf(d.noise_df) else rng.standard_t(d.noise_df)
            )
            value = mean + noise
            kind = ""
            if rng.random() < d.failure_rate:
                if rng.random() < 0.7:
                    kind, value = "dropout", value * rng.uniform(0.0, 0.4)
                else:
                    kind, value = "spike", value * rng.uniform(1.3, 2.5)
            strain = PARENT if s < 0 else names[s]
            rows.append(
                (wells[position], strain, plate_names[p], batch_names[b], value, bool(kind), kind)
            )

    table = pd.DataFrame(
        rows, columns=["well", "strain", "plate", "batch", "value", "failed", "kind"]
    )
    table = table.sort_values(["plate", "well"], ignore_index=True)
    table["value"] = table["value"].round(4)
    strains = pd.DataFrame(
        {
            "strain": [PARENT, *names],
            "effect": [0.0, *effects.round(6)],
            "improved": [False, *[s in improved for s in range(d.strains)]],
        }
    )
    batches = pd.DataFrame({"batch": batch_names, "offset": batch_offset, "gain": gains})
    plates = pd.DataFrame(
        {
            "plate": plate_names,
            "batch": [batch_names[p // d.plates_per_batch] for p in range(n_plates)],
            "offset": plate_offset,
        }
    )
    return Simulated(
        wells=table[["well", "strain", "plate", "batch", "value"]].copy(),
        strains=strains,
        batches=batches,
        plates=plates,
        failures=table[["well", "failed", "kind"]].copy(),
        design=d,
    )


def design_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds one ``--<field>`` option per ``Design`` field (defaults as in ``Design``)."""
    for f in fields(Design):
        flag = "--" + f.name.replace("_", "-")
        kind = type(f.default)
        parser.add_argument(flag, type=kind, default=f.default, help=f"default {f.default}")


def design_from(args: argparse.Namespace) -> Design:
    """The ``Design`` that ``design_arguments`` options describe."""
    return Design(**{f.name: getattr(args, f.name) for f in fields(Design)})


def check_design(d: Design) -> list[str]:
    """What makes ``d`` impossible to simulate, as messages naming the option."""
    problems = []
    for name in ("strains", "batches", "plates_per_batch", "plates_per_strain", "replicates"):
        if getattr(d, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1")
    if d.parent_wells < 1:
        problems.append("--parent-wells must be at least 1: the parent is every plate's control")
    for name in ("noise_sd", "batch_sd", "plate_sd", "multiplicative_sd"):
        if getattr(d, name) < 0:
            problems.append(f"--{name.replace('_', '-')} must not be negative")
    if d.noise_df <= 0:
        problems.append("--noise-df must be positive (inf for normal noise)")
    for name in ("improved_fraction", "failure_rate"):
        if not 0 <= getattr(d, name) <= 1:
            problems.append(f"--{name.replace('_', '-')} must be a fraction from 0 to 1")
    try:
        date.fromisoformat(d.first_day)
    except ValueError:
        problems.append(f"--first-day {d.first_day!r} is not a date (YYYY-MM-DD)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m norm.simulate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("wells.csv"), help="the wells table")
    parser.add_argument("--truth", type=Path, default=Path("truth"), help="the truth's folder")
    design_arguments(parser)
    args = parser.parse_args(argv)
    d = design_from(args)
    problems = check_design(d)
    if problems:
        print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
        return 2
    sim = simulate(d)
    sim.write(args.out, args.truth)
    print(
        f"simulated {len(sim.wells)} wells of {d.strains} strains + {PARENT} on "
        f"{d.batches * d.plates_per_batch} plates in {d.batches} batches "
        f"({int(sim.strains['improved'].sum())} truly improved, "
        f"{int(sim.failures['failed'].sum())} failed wells): {args.out}, truth in {args.truth}/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
