"""Golden pods: one fixed job rendered for each flavor of the packaged default config.

Each rendered pod is compared byte for byte with `tests/data/golden/<flavor>.yaml`. After an
intended change to the pod builder or the default catalog, rewrite the files with

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_golden_pods.py

and review the diff (`git diff tests/data/golden`) before committing it. Without
UPDATE_GOLDEN a missing or different golden file fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.config import CONFIG_ENV, PlatformConfig
from airflow_platform.pods import build_pod, pod_to_yaml
from airflow_platform.spec.loader import parse_spec_text
from airflow_platform.spec.models import JobSpec

pytestmark = pytest.mark.unit

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"
DEFAULT_FLAVORS = ["cpu-2gb", "cpu-4gb", "cpu-16gb", "ram-64gb", "gpu-1x-24gb", "gpu-4x-96gb"]
JOB = """\
job:
  name: golden-job
  team: vision
  resource_flavor: {flavor}
  docker_image: registry.internal/vision/train:1.4.2
  execution_time: 90 minutes
  execution_script: python train.py --epochs 10
  env: {{DATA_PATH: s3://bucket/train}}
  secrets: [{{name: s3-creds, key: access_key, env: AWS_ACCESS_KEY_ID}}]
"""


def _rendered(flavor: str, config: PlatformConfig) -> str:
    job = parse_spec_text(JOB.format(flavor=flavor), "golden-job.yaml").spec
    assert isinstance(job, JobSpec)
    return pod_to_yaml(build_pod(job, config))


def test_golden_files_cover_every_default_flavor(default_config: PlatformConfig) -> None:
    assert sorted(default_config.flavors) == sorted(DEFAULT_FLAVORS)


@pytest.mark.parametrize("flavor", DEFAULT_FLAVORS)
def test_rendered_pod_matches_golden_file(flavor: str, default_config: PlatformConfig) -> None:
    rendered = _rendered(flavor, default_config)
    golden = GOLDEN / f"{flavor}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_bytes(rendered.encode())
    assert golden.read_bytes() == rendered.encode()


@pytest.mark.parametrize("flavor", DEFAULT_FLAVORS)
def test_cli_render_prints_the_golden_pod(
    flavor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    spec = tmp_path / "golden-job.yaml"
    spec.write_text(JOB.format(flavor=flavor), encoding="utf-8")
    result = CliRunner().invoke(app, ["render", str(spec)])
    assert result.exit_code == 0
    assert result.stdout.encode() == (GOLDEN / f"{flavor}.yaml").read_bytes()
