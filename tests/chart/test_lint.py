"""`helm lint --strict` over the chart with each values file it is tested with."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chart.render import CHART_DIR, run_helm, values_files

pytestmark = pytest.mark.chart


@pytest.mark.parametrize(
    "values_file", [None, *values_files()], ids=lambda p: p.name if p else "defaults"
)
def test_chart_passes_helm_lint_strict(values_file: Path | None) -> None:
    """Strict lint fails on any warning, for the defaults and for each scenario's values."""
    args = ["lint", "--strict", str(CHART_DIR)]
    if values_file:
        args += ["--values", str(values_file)]
    out = run_helm(*args)
    assert "0 chart(s) failed" in out
