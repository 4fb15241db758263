"""Data between tasks, run context and params on the local runner (`run --local`): real
processes, real folders; nothing of ours is replaced."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from airflow_platform.artifacts import TaskArtifacts
from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.pods import RunContext
from airflow_platform.runners.local import run_local
from airflow_platform.spec.models import JobSpec

pytestmark = pytest.mark.unit

CAPPED_CONFIG = """\
teams: {lab: {}}
flavors: {small: {cpu: "1", memory: 1Gi}}
policy: {allowed_images: ["registry.internal/"], max_task_artifacts: 1Mi}
"""
HANDOFF = """\
dag:
  name: handoff
  team: nlp
  defaults: {resource_flavor: cpu-2gb, docker_image: registry.internal/nlp/tools:0.3.1, execution_time: 1m}
  params:
    rows: {type: number, default: 3, minimum: 1, description: Rows to write}
tasks:
  main:
    first: {execution_script: 'echo "rows=$ROWS" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt"'}
    second:
      execution_script: 'cat "$AIRFLOW_PLATFORM_INPUT_DIR/first/x.txt"; echo "date=$AIRFLOW_PLATFORM_DS"'
      depends_on: [first]
"""


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def _spec(tmp_path: Path, text: str = HANDOFF) -> Path:
    spec = tmp_path / "handoff.yaml"
    spec.write_text(text, encoding="utf-8")
    return spec


def test_a_task_reads_what_its_upstream_task_wrote_and_its_logical_date(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    result = _cli("run", "--local", str(_spec(tmp_path)), "--artifacts", str(root))
    assert result.exit_code == 0, result.stderr
    today = datetime.now(UTC).date().isoformat()
    assert result.stdout == f"rows=3\ndate={today}\n"
    run_dir = re.search(r"artifacts of run \S+: (\S+)", result.stderr)
    assert run_dir is not None
    folder = Path(run_dir.group(1))
    assert folder.parent == root / "handoff"
    assert (folder / "first" / "1" / "x.txt").read_text() == "rows=3\n"


def test_param_overrides_reach_the_job(tmp_path: Path) -> None:
    result = _cli("run", "--local", str(_spec(tmp_path)), "--param", "rows=7")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("rows=7\n")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("rows=many", "param 'rows': expected a number, got 'many' (the param is a number)"),
        ("rows=0", "param 'rows': 0 is less than the minimum of 1"),
        ("rwos=2", "unknown param 'rwos'; did you mean 'rows'?"),
    ],
)
def test_a_wrong_param_is_refused_before_any_task_runs(
    tmp_path: Path, option: str, message: str
) -> None:
    root = tmp_path / "artifacts"
    result = _cli(
        "run", "--local", str(_spec(tmp_path)), "--param", option, "--artifacts", str(root)
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert "▶" not in result.stderr  # no task started
    assert not root.exists()


def _job(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "name": "writer", "team": "lab", "resource_flavor": "small",
        "docker_image": "registry.internal/lab/tool:1.0", "execution_time": "1 minute",
        "execution_script": "true",
    }  # fmt: skip
    return JobSpec.model_validate({**fields, **overrides})


@pytest.fixture(scope="module")
def capped() -> PlatformConfig:
    return parse_config(CAPPED_CONFIG.encode(), "capped.yaml")


def _task(tmp_path: Path, task: str = "writer", try_number: int = 1, **kw: Any) -> TaskArtifacts:
    return TaskArtifacts(tmp_path / "root", "d", "r1", task, try_number, **kw)


def test_more_than_the_cap_fails_the_task_with_a_message_naming_the_cap(
    capped: PlatformConfig, tmp_path: Path
) -> None:
    job = _job(execution_script='head -c 2097152 /dev/zero > "$AIRFLOW_PLATFORM_OUTPUT_DIR/big"')
    task = _task(tmp_path)
    result = run_local(job, capped, cwd=tmp_path, on_output=print, artifacts=task)
    assert (result.reason, result.exit_code) == ("ArtifactsTooLarge", 1)
    assert (
        "more than the platform's cap of 1Mi per task (policy.max_task_artifacts)" in result.detail
    )
    assert (task.output_dir / "big").stat().st_size == 2097152  # kept, for debugging
    assert task.succeeded_output("writer") is None  # ...but never handed on


def test_outputs_globs_keep_only_what_matches_and_the_cap_counts_what_is_kept(
    capped: PlatformConfig, tmp_path: Path
) -> None:
    script = (
        'cd "$AIRFLOW_PLATFORM_OUTPUT_DIR" && head -c 2097152 /dev/zero > scratch.bin && '
        "echo a > a.csv && mkdir -p model/sub && echo w > model/sub/w.txt"
    )
    task = _task(tmp_path)
    job = _job(execution_script=script, outputs=["*.csv", "model/**"])
    result = run_local(job, capped, cwd=tmp_path, on_output=print, artifacts=task)
    assert result.succeeded, result.detail
    kept = sorted(p.relative_to(task.output_dir).as_posix() for p in task.output_dir.rglob("*"))
    assert kept == ["a.csv", "model", "model/sub", "model/sub/w.txt"]


def test_a_failed_task_keeps_what_it_wrote(capped: PlatformConfig, tmp_path: Path) -> None:
    job = _job(execution_script='echo partial > "$AIRFLOW_PLATFORM_OUTPUT_DIR/log.txt"; exit 3')
    task = _task(tmp_path)
    result = run_local(job, capped, cwd=tmp_path, on_output=print, artifacts=task)
    assert (result.reason, result.exit_code) == ("Error", 3)
    assert result.output_dir == task.output_dir
    assert (task.output_dir / "log.txt").read_text() == "partial\n"
    assert task.succeeded_output("writer") is None


def test_inputs_are_read_only_and_come_from_the_try_that_succeeded(
    capped: PlatformConfig, tmp_path: Path
) -> None:
    write = 'echo "try $AIRFLOW_PLATFORM_TRY_NUMBER" > "$AIRFLOW_PLATFORM_OUTPUT_DIR/x.txt"'
    for try_number, script in ((1, write + "; exit 1"), (2, write)):
        run_local(
            _job(execution_script=script), capped, cwd=tmp_path, on_output=print,
            context=RunContext(dag_id="d", task_id="g.writer", run_id="r1", try_number=try_number),
            artifacts=_task(tmp_path, try_number=try_number),
        )  # fmt: skip
    lines: list[str] = []
    # The copy is made read-only; as root (a container) the modes do not stop a write, and
    # the copy still keeps the writer's own artifacts intact.
    reader = _job(
        name="reader",
        execution_script='cat "$AIRFLOW_PLATFORM_INPUT_DIR/writer/x.txt"; '
        'stat -c %a "$AIRFLOW_PLATFORM_INPUT_DIR" "$AIRFLOW_PLATFORM_INPUT_DIR/writer/x.txt"; '
        '(echo changed > "$AIRFLOW_PLATFORM_INPUT_DIR/writer/x.txt") 2>/dev/null || true',
    )
    task = _task(tmp_path, "reader", upstream=("writer",))
    result = run_local(reader, capped, cwd=tmp_path, on_output=lines.append, artifacts=task)
    assert result.succeeded
    assert "".join(lines).splitlines() == ["try 2", "555", "444"]
    assert (tmp_path / "root/d/r1/writer/2/x.txt").read_text() == "try 2\n"
    assert (tmp_path / "root/d/r1/writer/1/x.txt").read_text() == "try 1\n"


def test_every_job_gets_the_runs_context(capped: PlatformConfig, tmp_path: Path) -> None:
    when = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    context = RunContext(
        dag_id="strain-normalization", task_id="model.fit_model", try_number=2,
        run_id="scheduled__2026-12-01T06:00:00+00:00", logical_date=when,
        data_interval_start=datetime(2026, 11, 30, 6, 0, tzinfo=UTC), data_interval_end=when,
    )  # fmt: skip
    lines: list[str] = []
    run_local(_job(execution_script="env"), capped, cwd=tmp_path, on_output=lines.append,
              context=context)  # fmt: skip
    env = dict(line.rstrip("\n").split("=", 1) for line in lines if "=" in line)
    folders = {
        "AIRFLOW_PLATFORM_WORK_DIR",
        "AIRFLOW_PLATFORM_OUTPUT_DIR",
        "AIRFLOW_PLATFORM_INPUT_DIR",
    }
    assert all(Path(env[name]).is_absolute() for name in folders)
    assert {
        k: v for k, v in env.items() if k.startswith("AIRFLOW_PLATFORM_") and k not in folders
    } == {
        "AIRFLOW_PLATFORM_JOB": "writer",
        "AIRFLOW_PLATFORM_TEAM": "lab",
        "AIRFLOW_PLATFORM_FLAVOR": "small",
        "AIRFLOW_PLATFORM_DAG": "strain-normalization",
        "AIRFLOW_PLATFORM_TASK": "fit_model",
        "AIRFLOW_PLATFORM_RUN_ID": "scheduled__2026-12-01T06:00:00+00:00",
        "AIRFLOW_PLATFORM_TRY_NUMBER": "2",
        "AIRFLOW_PLATFORM_LOGICAL_DATE": "2026-12-01T06:00:00+00:00",
        "AIRFLOW_PLATFORM_DS": "2026-12-01",
        "AIRFLOW_PLATFORM_DATA_INTERVAL_START": "2026-11-30T06:00:00+00:00",
        "AIRFLOW_PLATFORM_DATA_INTERVAL_END": "2026-12-01T06:00:00+00:00",
    }


def test_submit_refuses_a_wrong_param_before_it_calls_the_platform(tmp_path: Path) -> None:
    spec = tmp_path / "train.yaml"
    spec.write_text(
        "job:\n  team: nlp\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/nlp/tools:0.3.1\n  execution_time: 1m\n"
        "  execution_script: echo $LR\n  params: {lr: 0.1}\n",
        encoding="utf-8",
    )
    # Nothing listens on port 9 (discard): reaching it would be an API error, not this one.
    result = _cli("submit", str(spec), "--param", "lr=fast", "--url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "param 'lr': expected a number, got 'fast' (the param is a number)" in result.stderr
