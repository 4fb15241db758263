"""Teams: a spec's team is its folder, each team has its own jobs namespace, and the platform
config says which Airflow users and roles may run ad-hoc jobs as which team."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.pods import build_pod
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import Home, home_of
from airflow_platform.validation import validate_file

pytestmark = pytest.mark.unit

FOUR_FIELDS = """\
job:
  resource_flavor: cpu-2gb
  docker_image: registry.internal/vision/train:1.4.2
  execution_time: 30 minutes
  execution_script: python train.py
"""


def _spec(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_four_field_spec_in_a_team_folder_is_a_complete_job(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    """No name, no team: the file name names it, the folder gives the team and namespace."""
    doc = validate_file(_spec(tmp_path, "jobs/vision/train.yaml", FOUR_FIELDS), default_config)
    pod = build_pod(doc.jobs[0], default_config)
    assert (doc.jobs[0].name, doc.jobs[0].team) == ("train", "vision")
    assert pod.metadata.namespace == "airflow-jobs-vision"
    assert pod.metadata.labels["airflow-platform/team"] == "vision"


def test_another_team_folder_renders_in_another_namespace(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    doc = validate_file(_spec(tmp_path, "jobs/nlp/train.yaml", FOUR_FIELDS), default_config)
    assert build_pod(doc.jobs[0], default_config).metadata.namespace == "airflow-jobs-nlp"


def test_a_team_that_does_not_match_the_folder_is_refused(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    text = FOUR_FIELDS.replace("job:\n", "job:\n  team: analytics\n")
    spec = _spec(tmp_path, "jobs/vision/train.yaml", text)
    with pytest.raises(SpecError) as err:
        validate_file(spec, default_config)
    (problem,) = err.value.problems
    assert (problem.line, problem.column, problem.path) == (2, 9, "job.team")
    assert problem.message == (
        "the spec is in team vision's folder (jobs/vision/) but says team 'analytics'"
    )
    assert "remove `team:`" in problem.hint
    assert "jobs/analytics/" in problem.hint


def test_a_pipeline_takes_its_team_from_the_folder_too(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    text = (
        "dag:\n  team: vision\n  defaults: {resource_flavor: cpu-2gb, docker_image: "
        "registry.internal/a/b:1, execution_time: 5m}\n"
        "tasks:\n  g: {t: {execution_script: run}}\n"
    )
    with pytest.raises(SpecError, match=r"dag.team: the spec is in team nlp's folder"):
        validate_file(_spec(tmp_path, "jobs/nlp/pipe.yaml", text), default_config)
    doc = validate_file(_spec(tmp_path, "jobs/vision/pipe.yaml", text), default_config)
    assert [job.team for job in doc.jobs] == ["vision"]


def test_a_spec_at_the_top_of_the_jobs_folder_has_no_team(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    """Even a `team:` cannot stand in for the folder: the folder is the boundary."""
    text = FOUR_FIELDS.replace("job:\n", "job:\n  team: vision\n")
    with pytest.raises(SpecError, match=r"job: the spec is not in a team's folder of jobs/"):
        validate_file(_spec(tmp_path, "jobs/train.yaml", text), default_config)


def test_a_folder_that_is_no_team_is_an_unknown_team(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    with pytest.raises(SpecError, match=r"job.team: unknown team 'visoin'; did you mean 'vision'"):
        validate_file(_spec(tmp_path, "jobs/visoin/train.yaml", FOUR_FIELDS), default_config)


def test_deeper_folders_belong_to_the_team_folder_above_them(tmp_path: Path) -> None:
    assert home_of(tmp_path / "jobs" / "vision" / "a" / "b.yaml") == Home("vision", "jobs")
    assert home_of(tmp_path / "elsewhere" / "b.yaml") == Home()


def test_the_jobs_folder_setting_wins_over_the_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_PLATFORM_JOBS_DIR", str(tmp_path / "specs"))
    assert home_of(tmp_path / "specs" / "nlp" / "x.yaml") == Home("nlp", "specs")


def test_validate_of_a_jobs_tree_reports_a_team_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI says the same, with the file and line."""
    _spec(tmp_path, "jobs/vision/ok.yaml", FOUR_FIELDS)
    _spec(tmp_path, "jobs/vision/bad.yaml", FOUR_FIELDS.replace("job:\n", "job:\n  team: nlp\n"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_PLATFORM_JOBS_DIR", raising=False)
    result = CliRunner().invoke(app, ["validate", "jobs"])
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "jobs/vision/bad.yaml:2:9: job.team: the spec is in team vision's folder"
    )


CONFIG = {
    "teams": {
        "vision": {"users": ["alice"], "roles": ["vision-scientists"]},
        "nlp": {"namespace": "language-jobs", "roles": ["admin"]},
        "analytics": {"users": ["alice"]},
    },
    "flavors": {"cpu-2gb": {"cpu": "1", "memory": "2Gi"}},
    "policy": {"allowed_images": ["registry.internal/"], "jobs_namespace": "batch"},
}


def _config(**changes: object) -> PlatformConfig:
    data = yaml.safe_load(yaml.safe_dump(CONFIG, sort_keys=False))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    return parse_config(yaml.safe_dump(data, sort_keys=False).encode(), "platform.yaml")


def test_each_team_has_a_namespace_of_its_own() -> None:
    assert _config().jobs_namespaces() == {
        "vision": "batch-vision",
        "nlp": "language-jobs",
        "analytics": "batch-analytics",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"teams__analytics__namespace": "language-jobs"}, "is team nlp's too"),
        ({"teams__vision__namespace": "batch"}, "is the workers' namespace"),
        ({"policy__jobs_namespace": "b" * 60}, "is longer than 63 characters"),
    ],
)
def test_namespaces_that_would_mix_teams_are_refused(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        _config(**change)


@pytest.mark.parametrize(
    ("user", "roles", "teams"),
    [
        ("alice", set(), ["vision", "analytics"]),
        ("bob", {"vision-scientists"}, ["vision"]),
        ("carol", {"admin"}, ["nlp"]),
        ("mallory", {"viewer"}, []),
        (None, {"viewer"}, []),
    ],
)
def test_users_and_roles_map_to_the_teams_they_may_run_as(
    user: str | None, roles: set[str], teams: list[str]
) -> None:
    assert _config().teams_of_caller(user, roles) == teams


def test_a_team_quota_must_be_quantities() -> None:
    assert _config(teams__vision__quota={"cpu": "64", "nvidia.com/gpu": 8}).teams[
        "vision"
    ].quota == {"cpu": "64", "nvidia.com/gpu": "8"}
    with pytest.raises(SpecError, match=r"'lots' is not a Kubernetes quantity"):
        _config(teams__vision__quota={"memory": "lots"})
