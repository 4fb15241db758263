"""Fits the hierarchical model to a wells table and keeps its posterior in the data's units.

The values are standardized before sampling — centred on the parent's median, divided by the
robust spread of all values — so that one set of priors (``model.stan``) suits any unit and
scale; every draw is turned back into the data's units here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from norm import stanmodel
from norm.failures import robust_scale
from norm.steps import StepError


@dataclass(frozen=True)
class Settings:
    """The sampler's settings and the convergence limits (docs/normalization.md#convergence:
    the limits apply to the worst of some 500 parameters, hence R-hat 1.02, not 1.01)."""

    chains: int = 4
    warmup: int = 1000
    samples: int = 1500
    seed: int = 1
    rhat_max: float = 1.02
    ess_min: float = 400.0


@dataclass
class Posterior:
    """Draws (last axis) of the model's quantities, in the data's units."""

    strains: list[str]  # index 0 is the parent
    batches: list[str]
    plates: list[str]
    plate_batch: list[int]  # each plate's batch, as an index into batches
    level: np.ndarray  # (D,) the parent's level on an average batch
    effect: np.ndarray  # (S, D) strain minus parent; row 0 is 0
    batch_level: np.ndarray  # (B, D)
    plate_level: np.ndarray  # (P, D)
    batch_scale: np.ndarray  # (D,)
    plate_scale: np.ndarray  # (D,)
    sigma: np.ndarray  # (D,)
    nu: np.ndarray  # (D,)
    convergence: stanmodel.Convergence | None = None
    r_squared: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def batch_offset(self) -> np.ndarray:
        """(B, D): each batch's offset from the average batch."""
        return self.batch_level - self.level

    @property
    def plate_offset(self) -> np.ndarray:
        """(P, D): each plate's offset from its batch."""
        return self.plate_level - self.batch_level[self.plate_batch]

    _ARRAYS = (
        "level",
        "effect",
        "batch_level",
        "plate_level",
        "batch_scale",
        "plate_scale",
        "sigma",
        "nu",
    )

    def save(self, folder: Path) -> None:
        """``posterior.npz`` (the draws) and ``posterior.json`` (names, diagnostics)."""
        np.savez_compressed(folder / "posterior.npz", **{k: getattr(self, k) for k in self._ARRAYS})
        meta = {
            "strains": self.strains,
            "batches": self.batches,
            "plates": self.plates,
            "plate_batch": self.plate_batch,
            "r_squared": self.r_squared,
            "seconds": self.seconds,
        }
        (folder / "posterior.json").write_text(json.dumps(meta, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Posterior:
        meta = json.loads((folder / "posterior.json").read_text())
        with np.load(folder / "posterior.npz") as arrays:
            data = {k: arrays[k] for k in cls._ARRAYS}
        return cls(
            strains=meta["strains"],
            batches=meta["batches"],
            plates=meta["plates"],
            plate_batch=meta["plate_batch"],
            r_squared=meta["r_squared"],
            seconds=meta["seconds"],
            **data,
        )


def stan_data(wells: pd.DataFrame, parent: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model's data from the kept wells, and how to read its draws back."""
    strains = [parent, *sorted(set(wells["strain"]) - {parent})]
    batches = sorted(set(wells["batch"]))
    plates = sorted(set(wells["plate"]))
    s_index = {s: i for i, s in enumerate(strains)}
    b_index = {b: i for i, b in enumerate(batches)}
    p_index = {p: i for i, p in enumerate(plates)}
    plate_batch = wells.groupby("plate")["batch"].first()
    values = wells["value"].to_numpy(dtype=float)
    parent_values = values[(wells["strain"] == parent).to_numpy()]
    center = float(np.median(parent_values)) if len(parent_values) else float(np.median(values))
    scale = robust_scale(values - np.median(values))
    data = {
        "N": len(wells),
        "S": len(strains),
        "B": len(batches),
        "P": len(plates),
        "strain": [s_index[s] + 1 for s in wells["strain"]],
        "plate": [p_index[p] + 1 for p in wells["plate"]],
        "plate_batch": [b_index[plate_batch[p]] + 1 for p in plates],
        "y": ((values - center) / scale).tolist(),
    }
    layout = {
        "strains": strains,
        "batches": batches,
        "plates": plates,
        "plate_batch": [b_index[plate_batch[p]] for p in plates],
        "center": center,
        "scale": scale,
    }
    return data, layout


def fit(wells: pd.DataFrame, parent: str, settings: Settings, say: Any = print) -> Posterior:
    """Samples the model on ``wells`` (failures already removed) and checks convergence."""
    if wells.empty:
        raise StepError("no wells left to fit: every well was flagged as a failure")
    data, layout = stan_data(wells, parent)
    started = time.monotonic()
    model = stanmodel.build(data, settings.seed, say=say)
    built = time.monotonic()
    draws = stanmodel.sample(model, settings.chains, settings.warmup, settings.samples)
    sampled = time.monotonic()
    c, u = layout["center"], layout["scale"]
    n_strains, n_batches, n_plates = data["S"], data["B"], data["P"]
    effect = np.vstack(
        [np.zeros((1, settings.chains * settings.samples)), draws.vector("effect", n_strains - 1)]
    )
    posterior = Posterior(
        strains=layout["strains"],
        batches=layout["batches"],
        plates=layout["plates"],
        plate_batch=layout["plate_batch"],
        level=c + u * draws.scalar("mu"),
        effect=u * effect,
        batch_level=c + u * draws.vector("batch_level", n_batches),
        plate_level=c + u * draws.vector("plate_level", n_plates),
        batch_scale=u * draws.scalar("batch_scale"),
        plate_scale=u * draws.scalar("plate_scale"),
        sigma=u * draws.scalar("sigma"),
        nu=draws.scalar("nu"),
        convergence=stanmodel.convergence(draws, settings.rhat_max, settings.ess_min),
        seconds={"build": round(built - started, 2), "sample": round(sampled - built, 2)},
    )
    fitted = (
        posterior.plate_level.mean(axis=1)[np.asarray(data["plate"]) - 1]
        + posterior.effect.mean(axis=1)[np.asarray(data["strain"]) - 1]
    )
    values = wells["value"].to_numpy(dtype=float)
    total = float(np.sum((values - values.mean()) ** 2))
    posterior.r_squared = 1.0 - float(np.sum((values - fitted) ** 2)) / total if total else 1.0
    return posterior
