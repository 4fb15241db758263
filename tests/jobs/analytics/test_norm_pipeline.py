"""The strain-normalization pipeline end to end: its six steps run in order as processes with
the platform's artifact folders, run date and params set, on a small simulated data set.

Everything is real: the Stan model is compiled by PyStan into a cache folder of this test
session (so the first fit compiles it, as a first local run does), sampled, checked; the calls
database is a real SQLite file. Slack is a SaaS: it is stood in for by the local HTTP server
of tests/observability/standin.py, at the webhook URL the report step posts to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from norm.stanmodel import COMPILE_ESTIMATE

from tests.jobs.analytics.steps import DESIGN, SAMPLER, STEPS, WEBHOOK_PATH, run_step
from tests.observability.standin import StandIn, saas_standin

pytestmark = pytest.mark.stan


@dataclass
class Run:
    root: Path
    output: dict[str, str]  # task -> stdout + stderr


def _pipeline(root: Path, env: dict[str, str], ds: str, run_id: str) -> Run:
    output = {}
    for task, _ in STEPS:
        args = DESIGN if task == "compile_data" else []
        done = run_step(root, task, *args, ds=ds, run_id=run_id, env=env)
        output[task] = done.stdout + done.stderr
        assert done.returncode == 0, f"{task} failed:\n{output[task][-4000:]}"
    return Run(root, output)


@pytest.fixture(scope="module")
def slack() -> Iterator[StandIn]:
    with saas_standin() as standin:
        yield standin


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, slack: StandIn) -> dict[str, str]:
    return {
        "NORM_STAN_CACHE": str(tmp_path_factory.mktemp("stan-cache")),
        "CALLS_DB": str(tmp_path_factory.mktemp("db") / "calls.sqlite"),
        "SLACK_WEBHOOK_URL": slack.url + WEBHOOK_PATH,
        **SAMPLER,
    }


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Run:
    return _pipeline(tmp_path_factory.mktemp("run1"), env, "2026-12-01", "scheduled__2026-12-01")


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], first: Run) -> Run:
    return _pipeline(tmp_path_factory.mktemp("run2"), env, "2026-12-02", "scheduled__2026-12-02")


def test_the_first_fit_says_it_compiles_the_model_and_roughly_how_long(first: Run) -> None:
    fit = first.output["fit_model"]
    assert f"Compiling the Stan model (first run only, {COMPILE_ESTIMATE}) into" in fit
    assert "Compiled the Stan model in" in fit


def test_the_calls_recover_the_planted_improved_strains(first: Run) -> None:
    truth = pd.read_csv(first.root / "compile_data" / "truth" / "strains.csv")
    planted = set(truth.loc[truth["improved"], "strain"])
    calls = pd.read_csv(first.root / "call_improved_strains" / "improved_strains.csv")
    assert list(calls.columns) == ["strain", "probability", "effect"]
    found = set(calls["strain"])
    assert len(found & planted) >= len(planted) - 1
    assert len(found - planted) <= 1
    assert calls["probability"].is_monotonic_decreasing
    assert (calls["effect"] > 0).all()


def test_failed_wells_are_reported_and_left_out_of_the_fit_not_dropped_silently(first: Run) -> None:
    judged = pd.read_csv(first.root / "detect_failures" / "wells.csv")
    compiled = pd.read_csv(first.root / "compile_data" / "wells.csv")
    assert len(judged) == len(compiled)
    failures = pd.read_csv(first.root / "detect_failures" / "failures.csv")
    assert len(failures) == int(judged["failed"].sum()) > 0
    truth = pd.read_csv(first.root / "compile_data" / "truth" / "wells.csv")
    planted = set(truth.loc[truth["failed"], "well"])
    assert len(set(failures["well"]) & planted) >= 0.9 * len(planted)
    fit = json.loads((first.root / "fit_model" / "fit.json").read_text())
    assert fit["failures_left_out"] == len(failures)
    assert fit["wells"] == len(judged) - len(failures)
    assert f"{len(failures)} of {len(judged)} wells" in first.output["detect_failures"]


def test_the_fit_checks_convergence_and_reports_its_quality(first: Run) -> None:
    fit = json.loads((first.root / "fit_model" / "fit.json").read_text())
    assert fit["converged"] is True
    assert fit["rhat_max"] <= 1.05
    assert min(fit["ess_bulk_min"], fit["ess_tail_min"]) >= 100
    assert 0.3 < fit["r_squared"] <= 1.0


def test_batch_effects_are_published_as_an_artifact_and_as_metrics(first: Run) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    out = first.root / "fit_model"
    batch = json.loads((out / "batch_effects.json").read_text())
    truth = pd.read_csv(first.root / "compile_data" / "truth" / "batches.csv")
    assert [b["batch"] for b in batch["batches"]] == truth["batch"].tolist()
    estimated = np.array([b["mean"] for b in batch["batches"]])
    true = truth["offset"].to_numpy()
    assert np.corrcoef(estimated, true)[0, 1] > 0.9
    assert batch["batch_scale_bound_ratio"] == 0.15
    metrics = {
        s.name: s.value
        for family in text_string_to_metric_families((out / "metrics.prom").read_text())
        for s in family.samples
    }
    assert metrics["strain_norm_batch_effect_scale_ratio"] == pytest.approx(
        batch["batch_scale_ratio"]
    )
    assert metrics["strain_norm_batch_effect_scale_bound_ratio"] == 0.15
    assert pd.read_csv(out / "batch_effects.csv").columns.tolist()[:2] == ["batch", "offset"]


def test_the_report_posts_the_summary_to_slack_without_showing_the_webhook(
    first: Run, slack: StandIn
) -> None:
    posted = slack.to(WEBHOOK_PATH)
    assert len(posted) >= 1
    text = posted[0]["text"]
    calls = json.loads((first.root / "call_improved_strains" / "calls.json").read_text())
    fit = json.loads((first.root / "fit_model" / "fit.json").read_text())
    assert "*strain-normalization* success" in text
    assert "run date 2026-12-01" in text
    assert f"*improved strains:* {calls['improved']} of 60" in text
    assert f"yield R² {fit['r_squared']:.3f}" in text
    assert "report: summary posted to Slack" in first.output["report"]
    assert all("secret-token" not in out for out in first.output.values())
    summary = json.loads((first.root / "report" / "summary.json").read_text())
    assert summary["posted"] is True
    assert summary["improved_strains"] == calls["improved"]


def test_a_second_run_reuses_the_compiled_model_and_supersedes_the_first_runs_calls(
    first: Run, second: Run, env: dict[str, str]
) -> None:
    assert "Compiling the Stan model" not in second.output["fit_model"]
    with sqlite3.connect(env["CALLS_DB"]) as db:
        runs = dict(db.execute("SELECT run_id, superseded_by FROM runs").fetchall())
        stale = db.execute(
            "SELECT count(*) FROM calls WHERE run_id = 'scheduled__2026-12-01' "
            "AND superseded_by = 'scheduled__2026-12-02'"
        ).fetchone()[0]
    assert runs == {"scheduled__2026-12-01": "scheduled__2026-12-02", "scheduled__2026-12-02": None}
    first_calls = pd.read_csv(first.root / "call_improved_strains" / "improved_strains.csv")
    assert stale == len(first_calls)
    assert "superseded 1 earlier run(s)" in second.output["invalidate_prior_data"]


def test_a_fit_whose_chains_did_not_converge_fails_saying_so(
    first: Run, env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "detect_failures").symlink_to(first.root / "detect_failures")
    done = run_step(
        tmp_path,
        "fit_model",
        env={**env, "WARMUP": "10", "SAMPLES": "20", "RHAT_MAX": "1.01", "ESS_MIN": "400"},
    )
    assert done.returncode == 1
    assert "error: the sampler's chains did not converge: R-hat above 1.01 for" in done.stderr
    assert "Sample longer (params warmup and samples)" in done.stderr
    assert "Traceback" not in done.stderr
    fit = json.loads((tmp_path / "fit_model" / "fit.json").read_text())
    assert fit["converged"] is False
    assert not (tmp_path / "fit_model" / "posterior.npz").exists()
