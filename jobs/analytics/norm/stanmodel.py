"""The Stan model (``model.stan``): compiled once and cached, sampled, checked for convergence.

PyStan 3 compiles a program through httpstan into a C++ extension module (with the system's
g++), cached under ``<cache>/httpstan/<version>/models/<id>/``, where the id hashes the program,
httpstan's version and the Python interpreter; a run finds it there and does not compile again.
The cache is ``$NORM_STAN_CACHE``, else ``$XDG_CACHE_HOME/airflow-platform/stan`` (``~/.cache``
when that is unset). The job image bakes the model in at build time (``python -m
norm.stanmodel``). httpstan also writes each fit's draws into the model's folder while a run
reads them, so a read-only cache (a baked image run with a read-only root) is copied to a
temporary folder first.

Convergence: every parameter's rank-normalized split R-hat must be at most ``rhat_max`` and its
bulk and tail effective sample sizes at least ``ess_min`` (Vehtari et al. 2021, computed by
ArviZ's ``arviz_stats``); otherwise the run fails, naming the worst parameters.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from norm.steps import StepError

PROGRAM = (Path(__file__).with_name("model.stan")).read_text(encoding="utf-8")
CACHE_ENV = "NORM_STAN_CACHE"
# Measured on the 2-core development machine, shared with other work: 34 s idle, 85 s loaded.
COMPILE_ESTIMATE = "about 0.5-1.5 minutes on 2 cores"
COMPILE_ATTEMPTS = 5
SAMPLER_PARAMS = (
    "lp__",
    "accept_stat__",
    "stepsize__",
    "treedepth__",
    "n_leapfrog__",
    "divergent__",
    "energy__",
)


def cache_dir() -> Path:
    """Where compiled models are kept (see the module docstring)."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airflow-platform" / "stan"


@functools.cache
def _use_cache() -> Path:
    """Points httpstan at the cache (it follows ``$XDG_CACHE_HOME``). A cache this process
    cannot write is copied to a temporary folder first: httpstan writes fits beside the model."""
    root = cache_dir()
    with contextlib.suppress(OSError):
        root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        copy = Path(tempfile.mkdtemp(prefix="norm-stan-"))
        if root.is_dir():
            shutil.copytree(root, copy, dirs_exist_ok=True)
        root = copy
    os.environ["XDG_CACHE_HOME"] = str(root)
    return root


def _quiet_imports() -> Any:
    # pystan 3.10 imports pkg_resources, which warns that it is deprecated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import stan

    return stan


def is_compiled() -> bool:
    """True when the cache holds this program's compiled module."""
    _use_cache()
    _quiet_imports()
    import httpstan.cache
    import httpstan.models

    return httpstan.models.calculate_model_name(PROGRAM) in httpstan.cache.list_model_names()


def build(data: dict[str, Any], seed: int, say: Any = print) -> Any:
    """The model with ``data``; compiles (and says so, with an estimate) when not cached."""
    compiled = is_compiled()
    stan = _quiet_imports()
    if not compiled:
        say(
            f"Compiling the Stan model (first run only, {COMPILE_ESTIMATE}) into "
            f"{os.environ['XDG_CACHE_HOME']} ..."
        )
    started = time.monotonic()
    for attempt in range(1, COMPILE_ATTEMPTS + 1):
        try:
            with warnings.catch_warnings():
                # aiohttp's advice to httpstan about its app keys, printed on every build.
                warnings.simplefilter("ignore")
                model = stan.build(PROGRAM, data=data, random_seed=seed)
            break
        except Exception as exc:
            # httpstan gives the Stan-to-C++ translator one second (httpstan/compile.py); on a
            # busy machine it runs out, and the server answers with an error page. The program
            # itself is fixed and known to compile, so another try is the remedy.
            if compiled or attempt == COMPILE_ATTEMPTS:
                raise
            say(f"Compiling failed ({type(exc).__name__}), likely stanc's 1 s limit; retrying")
    if not compiled:
        say(
            f"Compiled the Stan model in {time.monotonic() - started:.0f} s (cached for later runs)"
        )
    return model


@dataclass(frozen=True)
class Draws:
    """Posterior draws by parameter column (``name`` or ``name.i``), shape (chains, draws)."""

    columns: dict[str, np.ndarray]
    chains: int

    def vector(self, name: str, size: int) -> np.ndarray:
        """``name.1 … name.size`` as an array (size, chains × draws)."""
        return np.stack([self.columns[f"{name}.{i + 1}"].reshape(-1) for i in range(size)])

    def scalar(self, name: str) -> np.ndarray:
        return self.columns[name].reshape(-1)


def _drop_fits(model: Any) -> None:
    import httpstan.cache

    shutil.rmtree(httpstan.cache.model_directory(model.model_name) / "fits", ignore_errors=True)


def sample(model: Any, chains: int, warmup: int, samples: int) -> Draws:
    """Runs NUTS (the seed is the model's) and returns the draws by chain.

    httpstan keeps every seeded fit in the cache (15 MB each here) and hands it back for the
    same data, seed and settings instead of sampling; both are dropped, so the cache holds the
    compiled model only and every run samples.
    """
    _drop_fits(model)
    try:
        fit = model.sample(num_chains=chains, num_warmup=warmup, num_samples=samples)
    finally:
        _drop_fits(model)
    frame = fit.to_frame()
    # to_frame() interleaves chains: row d * chains + c is draw d of chain c.
    columns = {
        str(name): frame[name].to_numpy().reshape(samples, chains).T for name in frame.columns
    }
    return Draws(columns=columns, chains=chains)


@dataclass(frozen=True)
class Convergence:
    """The sampler's diagnostics; ``problems`` is empty when the chains converged."""

    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    problems: list[str]

    def check(self) -> None:
        """Raises a StepError that says why when the chains did not converge."""
        if self.problems:
            raise StepError(
                "the sampler's chains did not converge: "
                + "; ".join(self.problems)
                + ". Sample longer (params warmup and samples), or see "
                "docs/normalization.md#convergence"
            )


def convergence(draws: Draws, rhat_max: float, ess_min: float) -> Convergence:
    """R-hat and bulk/tail ESS of every parameter (and lp__), against the limits."""
    from arviz_stats.base import array_stats

    names = [n for n in draws.columns if n not in SAMPLER_PARAMS or n == "lp__"]
    stacked = np.stack([draws.columns[n] for n in names])  # (params, chains, draws)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        rhat = np.asarray(array_stats.rhat(stacked, chain_axis=1, draw_axis=2))
        bulk = np.asarray(array_stats.ess(stacked, chain_axis=1, draw_axis=2, method="bulk"))
        tail = np.asarray(
            array_stats.ess(stacked, chain_axis=1, draw_axis=2, method="tail", prob=0.05)
        )
    rhat = np.where(np.isnan(rhat), np.inf, rhat)
    bulk = np.where(np.isnan(bulk), 0.0, bulk)
    tail = np.where(np.isnan(tail), 0.0, tail)
    problems = []
    worst = _worst(names, rhat, lambda v: v > rhat_max, reverse=True)
    if worst:
        problems.append(f"R-hat above {rhat_max:g} for {worst}")
    for label, values in (("bulk", bulk), ("tail", tail)):
        worst = _worst(names, values, lambda v: v < ess_min, reverse=False)
        if worst:
            problems.append(f"{label} ESS below {ess_min:g} for {worst}")
    divergent = draws.columns.get("divergent__")
    return Convergence(
        rhat_max=float(rhat.max()),
        ess_bulk_min=float(bulk.min()),
        ess_tail_min=float(tail.min()),
        divergences=int(divergent.sum()) if divergent is not None else 0,
        problems=problems,
    )


def _worst(names: list[str], values: np.ndarray, bad: Any, *, reverse: bool) -> str:
    failing = [(float(v), n) for n, v in zip(names, values, strict=True) if bad(v)]
    if not failing:
        return ""
    failing.sort(reverse=reverse)
    shown = ", ".join(f"{n} ({v:.3g})" for v, n in failing[:5])
    more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
    return f"{len(failing)} parameter(s): {shown}{more}"


def bake() -> None:
    """Compiles the model into the cache: the job image runs this at build time."""
    tiny = {
        "N": 2,
        "S": 2,
        "B": 1,
        "P": 1,
        "strain": [1, 2],
        "plate": [1, 1],
        "plate_batch": [1],
        "y": [0.0, 1.0],
    }
    build(tiny, seed=1)
    print(f"Stan model cached in {os.environ['XDG_CACHE_HOME']}")


if __name__ == "__main__":
    bake()
