"""Ad-hoc runs (`airflow-platform submit`, the runner DAG) run as a team their authenticated
Airflow caller may run as; nothing in the conf can widen that. Real Airflow 3.3 runs the
runner DAG with `dag.test()`, whose caller is the user `dag_test`; the jobs run on the local
runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.airflow
ROOT = Path(__file__).resolve().parents[2]
JOB = {
    "name": "adhoc-hello",
    "resource_flavor": "cpu-2gb",
    "docker_image": "registry.internal/nlp/tools:0.3.1",
    "execution_time": "1m",
    "execution_script": "echo hello from $AIRFLOW_PLATFORM_TEAM",
}


def _runner() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "platform_job_runner.py")).dags[
        "platform_job_runner"
    ]


def _config(tmp_path: Path, **teams: dict[str, Any]) -> None:
    from airflow_platform.config import load_config

    data = load_config().model_dump(mode="json", exclude_none=True)
    for team in data["teams"].values():
        team.pop("roles", None)
    for name, spec in teams.items():
        data["teams"][name].update(spec)
    (tmp_path / "platform.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def only_nlp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dag_test` may run as nlp alone; vision's runners are others."""
    _config(
        tmp_path,
        nlp={"users": ["dag_test"]},
        vision={"users": ["alice"], "roles": ["vision-scientists"]},
        analytics={"roles": ["admin"]},
    )
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(tmp_path / "platform.yaml"))


def test_a_conf_without_a_team_runs_as_the_callers_only_team(
    airflow_db: Path, only_nlp: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _runner().test(run_conf={"spec": {"job": JOB}})
    assert run.state == "success"
    assert "hello from nlp" in capsys.readouterr().out


def test_a_conf_naming_a_team_the_caller_may_not_run_as_is_refused(
    airflow_db: Path, only_nlp: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The conf says vision; `dag_test` may run as nlp only: refused, naming both."""
    run = _runner().test(run_conf={"spec": {"job": {**JOB, "team": "vision"}}})
    assert run.state == "failed"
    out = capsys.readouterr().out
    assert "Airflow user 'dag_test' may not run jobs as team 'vision' (you may run as: nlp)" in out
    assert "hello from" not in out


def test_a_caller_of_no_team_is_refused(
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _config(tmp_path, nlp={"users": ["alice"]})
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(tmp_path / "platform.yaml"))
    run = _runner().test(run_conf={"spec": {"job": {**JOB, "team": "nlp"}}})
    assert run.state == "failed"
    assert "Airflow user 'dag_test' may not run jobs as team 'nlp'" in capsys.readouterr().out


def test_a_caller_of_several_teams_says_which(
    airflow_db: Path, dag_test_runs_as_every_team: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _runner().test(run_conf={"spec": {"job": JOB}}).state == "failed"
    assert "say which team the job is for with `team:`" in capsys.readouterr().out
    run = _runner().test(run_conf={"spec": {"job": {**JOB, "team": "vision"}}})
    assert run.state == "success"
    assert "hello from vision" in capsys.readouterr().out


def test_a_conf_breaking_the_policy_is_refused_with_located_problems(
    airflow_db: Path, dag_test_runs_as_every_team: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same text `validate` gives a file, for the conf: and a secret never echoed."""
    job = {**JOB, "team": "nlp", "env": {"DB": "postgresql://u:Tr0ub4dor3@db:5432/x"}}
    assert _runner().test(run_conf={"spec": {"job": job}}).state == "failed"
    out = capsys.readouterr().out
    assert "<run conf>:1:1: job.env.DB: 'DB' holds a URL with a password" in out
    assert "Tr0ub4dor3" not in out
