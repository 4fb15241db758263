"""`airflow-platform init`: a new spec and its script that validate and run locally at once.

Everything runs for real: the CLI in-process through typer's `CliRunner`, `run --local` as the
local runner's own subprocess, into a jobs folder under the test's tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig

pytestmark = pytest.mark.unit

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "airflow_platform/data/platform.yaml"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_PLATFORM_JOBS_DIR", raising=False)
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    return tmp_path


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_init_writes_a_job_that_validates_and_runs_locally_at_once(here: Path) -> None:
    made = _cli("init", "vision/train-classifier")
    assert made.exit_code == 0, made.stderr
    assert made.stderr == (
        "wrote jobs/vision/train-classifier.yaml and jobs/vision/train_classifier.py\n"
        "next: airflow-platform run --local jobs/vision/train-classifier.yaml\n"
    )
    checked = _cli("validate", "jobs/")
    assert (checked.exit_code, checked.stderr) == (0, "1 file checked: all valid\n")
    ran = _cli("run", "--local", "jobs/vision/train-classifier.yaml")
    assert ran.exit_code == 0, ran.stderr
    (result,) = (here / "artifacts/train-classifier").glob("*/train-classifier/1/result.txt")
    assert result.read_text().startswith("hello from run local__")


def test_init_pipeline_runs_both_tasks_and_passes_data_between_them(here: Path) -> None:
    made = _cli("init", "analytics/daily-sums", "--pipeline")
    assert made.exit_code == 0, made.stderr
    ran = _cli("run", "--local", "jobs/analytics/daily-sums.yaml")
    assert ran.exit_code == 0, ran.stderr
    assert "sum of 10 numbers: 55" in ran.stdout + ran.stderr
    (total,) = (here / "artifacts/daily-sums").glob("*/summarize/1/sum.txt")
    assert total.read_text() == "55\n"


@pytest.mark.parametrize("pipeline", [False, True], ids=["job", "pipeline"])
def test_init_uses_the_teams_smallest_cpu_flavor_from_the_config(
    here: Path, pipeline: bool
) -> None:
    # cpu-2gb is vision's alone here, so analytics starts on its own smallest: cpu-4gb.
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["flavors"]["cpu-2gb"]["teams"] = ["vision"]
    (here / "platform.yaml").write_text(yaml.safe_dump(config))
    args = ["init", "analytics/report", "--config", "platform.yaml"]
    made = _cli(*args, *(["--pipeline"] if pipeline else []))
    assert made.exit_code == 0, made.stderr
    spec = yaml.safe_load((here / "jobs/analytics/report.yaml").read_text())
    section = spec["dag"]["defaults"] if pipeline else spec["job"]
    assert section["resource_flavor"] == "cpu-4gb"
    assert section["docker_image"] == "registry.internal/analytics/report:0.1.0"
    checked = _cli("validate", "--config", "platform.yaml", "jobs/analytics/report.yaml")
    assert checked.exit_code == 0, checked.stdout


def test_starter_flavor_is_never_a_gpu_flavor(default_config: PlatformConfig) -> None:
    for team in default_config.teams:
        flavor = default_config.starter_flavor(team)
        assert flavor is not None
        assert default_config.flavors[flavor].gpu is None


def test_init_honours_the_jobs_dir_option(here: Path) -> None:
    made = _cli("init", "nlp/tokens", "--jobs-dir", "specs")
    assert made.exit_code == 0, made.stderr
    assert sorted(p.name for p in (here / "specs/nlp").iterdir()) == ["tokens.py", "tokens.yaml"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("visoin/x", "error: unknown team 'visoin'; did you mean 'vision'?"),
        ("vision", "error: 'vision' is not <team>/<name>"),
        ("vision/Train_Model", "error: 'Train_Model' is not a valid job name"),
        ("vision/a/b", "error: 'vision/a/b' is not <team>/<name>"),
    ],
)
def test_init_refuses_what_it_cannot_write_with_exit_2(
    here: Path, target: str, message: str
) -> None:
    made = _cli("init", target)
    assert made.exit_code == 2
    assert made.stderr.startswith(message)
    assert not (here / "jobs").exists()


def test_init_never_replaces_a_file_without_force(here: Path) -> None:
    assert _cli("init", "vision/train").exit_code == 0
    script = here / "jobs/vision/train.py"
    script.write_text("print('mine')\n")
    again = _cli("init", "vision/train")
    assert again.exit_code == 2
    assert "already exist; pass --force" in again.stderr
    assert script.read_text() == "print('mine')\n"
    assert _cli("init", "vision/train", "--force").exit_code == 0
    assert "hello from run" in script.read_text()
