"""The batch-effect gauges reach a real Pushgateway, a real Prometheus scrapes them, and the
alert's own expression fires on a scale above the bound and not below it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from norm import monitor
from norm.posterior import Posterior

from tests.observability.servers import prometheus, pushgateway, query, wait_for

pytestmark = pytest.mark.observability
RULES = (
    Path(__file__).resolve().parents[3]
    / "charts"
    / "airflow-platform"
    / "files"
    / "alerts.rules.yaml"
)


def _posterior(batch_sd: float, draws: int = 400) -> Posterior:
    """Draws of a posterior with three batches whose offsets spread by ``batch_sd``."""
    rng = np.random.default_rng(1)
    level = rng.normal(10.0, 0.05, draws)
    offsets = np.array([-1.0, 0.0, 1.0])[:, None] * batch_sd + rng.normal(0, 0.01, (3, draws))
    return Posterior(
        strains=["parent", "s1"],
        batches=["d1", "d2", "d3"],
        plates=["p1", "p2", "p3"],
        plate_batch=[0, 1, 2],
        level=level,
        effect=np.zeros((2, draws)),
        batch_level=level + offsets,
        plate_level=level + offsets,
        batch_scale=np.abs(rng.normal(batch_sd, 0.01, draws)),
        plate_scale=np.abs(rng.normal(0.1, 0.01, draws)),
        sigma=np.full(draws, 0.3),
        nu=np.full(draws, 8.0),
    )


def _alert_expr() -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    (rule,) = [
        r for g in groups for r in g["rules"] if r.get("alert") == "StrainBatchEffectScaleHigh"
    ]
    return str(rule["expr"])


def test_the_summary_lists_each_batch_and_the_scale_against_its_bound(tmp_path: Path) -> None:
    summary = monitor.batch_effects(_posterior(2.0), bound=0.15)
    assert [b["batch"] for b in summary["batches"]] == ["d1", "d2", "d3"]
    assert [round(b["mean"]) for b in summary["batches"]] == [-2, 0, 2]
    assert summary["batch_scale_ratio"] == pytest.approx(0.2, abs=0.01)
    assert summary["above_bound"] is True
    monitor.write_artifacts(tmp_path, summary)
    assert (tmp_path / "batch_effects.csv").read_text().splitlines()[
        0
    ] == "batch,offset,q05,q95,plates"


@pytest.mark.parametrize(("batch_sd", "fires"), [(2.0, True), (0.5, False)])
def test_pushed_gauges_fire_the_alert_expression_only_above_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_sd: float, fires: bool
) -> None:
    summary = monitor.batch_effects(_posterior(batch_sd), bound=0.15)
    with (
        pushgateway(tmp_path / "pgw") as gateway,
        prometheus(tmp_path / "prom", gateway.url) as prom,
    ):
        monkeypatch.setenv("PUSHGATEWAY_URL", gateway.url)
        said = monitor.publish(tmp_path, summary, "strain-normalization")
        assert (
            said
            == "gauges pushed to the Pushgateway (job=strain_normalization, dag=strain-normalization)"
        )
        (sample,) = wait_for(prom, "strain_norm_batch_effect_scale_ratio")
        assert sample["metric"]["dag"] == "strain-normalization"
        assert float(sample["value"][1]) == pytest.approx(summary["batch_scale_ratio"])
        wait_for(prom, "strain_norm_batch_effect_scale_bound_ratio")
        assert bool(query(prom, _alert_expr())) is fires
    assert (tmp_path / "metrics.prom").is_file()


def test_an_unreachable_pushgateway_is_reported_and_the_metrics_file_still_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUSHGATEWAY_URL", "http://127.0.0.1:9")
    said = monitor.publish(tmp_path, monitor.batch_effects(_posterior(1.0), 0.15), "dag")
    assert said.startswith("warning: gauges not pushed to the Pushgateway: URLError")
    assert "strain_norm_batch_effect_scale_ratio" in (tmp_path / "metrics.prom").read_text()
