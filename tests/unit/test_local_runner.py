"""The local runner (`run --local`): real processes, with the pod's command, env and limits.

Every test starts real child processes; none of our code is replaced. The memory test uses a
platform config with a 64Mi flavor, written to tmp_path.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.runners.local import LocalResult, run_local
from airflow_platform.spec.loader import read_spec
from airflow_platform.spec.models import JobSpec

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SMALL_CONFIG = """\
teams: {lab: {}}
flavors:
  tiny: {cpu: "1", memory: 64Mi}
  roomy: {cpu: "1", memory: 2Gi}
policy: {allowed_images: ["registry.internal/"], max_execution_time: 1 hour}
"""


@pytest.fixture(scope="module")
def small_config() -> PlatformConfig:
    return parse_config(SMALL_CONFIG.encode(), "small.yaml")


def _job(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "name": "local-test",
        "team": "lab",
        "resource_flavor": "roomy",
        "docker_image": "registry.internal/lab/tool:1.0",
        "execution_time": "1 minute",
        "execution_script": "exit 0",
    }
    return JobSpec.model_validate({**fields, **overrides})


def _run(job: JobSpec, config: PlatformConfig, cwd: Path) -> tuple[LocalResult, str]:
    lines: list[str] = []
    result = run_local(job, config, cwd=cwd, on_output=lines.append)
    return result, "".join(lines)


@pytest.mark.parametrize("code", [0, 1, 3, 42])
def test_exit_code_of_the_script_passes_through(
    small_config: PlatformConfig, tmp_path: Path, code: int
) -> None:
    result, _ = _run(_job(execution_script=f"exit {code}"), small_config, tmp_path)
    assert result.exit_code == code
    assert result.reason == ("Completed" if code == 0 else "Error")
    assert result.succeeded is (code == 0)


def test_exec_form_runs_without_a_shell(small_config: PlatformConfig, tmp_path: Path) -> None:
    script = [sys.executable, "-c", "import sys; print('$HOME', sys.argv[1:])", "a b", "$X"]
    result, output = _run(_job(execution_script=script), small_config, tmp_path)
    assert result.exit_code == 0
    assert output == "$HOME ['a b', '$X']\n"


def test_output_is_streamed_line_by_line(small_config: PlatformConfig, tmp_path: Path) -> None:
    lines: list[str] = []
    run_local(
        _job(execution_script="echo one; echo two >&2; echo three"),
        small_config,
        cwd=tmp_path,
        on_output=lines.append,
    )
    assert lines == ["one\n", "two\n", "three\n"]


def test_execution_time_is_enforced_as_deadline_exceeded(
    small_config: PlatformConfig, tmp_path: Path
) -> None:
    result, _ = _run(_job(execution_time="1s", execution_script="sleep 30"), small_config, tmp_path)
    assert result.reason == "DeadlineExceeded"
    assert result.exit_code == 143
    assert 1.0 <= result.duration_seconds < 10


def test_deadline_also_ends_the_scripts_children(
    small_config: PlatformConfig, tmp_path: Path
) -> None:
    marker = tmp_path / "child-survived"
    script = f"(sleep 3; touch {marker}) & sleep 30"
    result, _ = _run(_job(execution_time="1s", execution_script=script), small_config, tmp_path)
    assert result.reason == "DeadlineExceeded"
    time.sleep(3)
    assert not marker.exists()


def test_memory_over_the_flavor_limit_is_oom_killed(
    small_config: PlatformConfig, tmp_path: Path
) -> None:
    script = [
        sys.executable,
        "-c",
        "import time\nblock = b'x' * (256 * 1024 * 1024)\ntime.sleep(20)\n",
    ]
    job = _job(resource_flavor="tiny", execution_script=script)
    result, _ = _run(job, small_config, tmp_path)
    assert result.reason == "OOMKilled"
    assert result.exit_code == 137
    assert result.peak_memory_bytes > 64 * 2**20
    assert result.duration_seconds < 15


def test_memory_under_the_limit_completes_and_reports_peak(
    small_config: PlatformConfig, tmp_path: Path
) -> None:
    script = [
        sys.executable,
        "-c",
        "import time\nblock = b'x' * (100 * 1024 * 1024)\ntime.sleep(0.5)\n",
    ]
    result, _ = _run(_job(execution_script=script), small_config, tmp_path)
    assert (result.reason, result.exit_code) == ("Completed", 0)
    assert result.peak_memory_bytes > 100 * 2**20


def test_script_gets_the_env_the_pod_would_get(
    small_config: PlatformConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-this-machine")
    monkeypatch.setenv("UNRELATED_HOST_VAR", "must-not-leak")
    job = _job(
        env={"DATA_PATH": "s3://bucket/train", "EPOCHS": "10"},
        secrets=[
            {"name": "s3-creds", "key": "access_key", "env": "AWS_ACCESS_KEY_ID"},
            {"name": "s3-creds", "key": "secret_key", "env": "AWS_SECRET_ACCESS_KEY_LOCAL_TEST"},
        ],
        execution_script="env",
    )
    result, output = _run(job, small_config, tmp_path)
    env = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    assert env["AIRFLOW_PLATFORM_JOB"] == "local-test"
    assert env["AIRFLOW_PLATFORM_TEAM"] == "lab"
    assert env["AIRFLOW_PLATFORM_FLAVOR"] == "roomy"
    assert (env["DATA_PATH"], env["EPOCHS"]) == ("s3://bucket/train", "10")
    assert env["AWS_ACCESS_KEY_ID"] == "from-this-machine"
    assert "AWS_SECRET_ACCESS_KEY_LOCAL_TEST" not in env
    assert "UNRELATED_HOST_VAR" not in env
    assert result.missing_secrets == ("AWS_SECRET_ACCESS_KEY_LOCAL_TEST",)


def test_python_in_a_script_is_the_platform_interpreter(
    small_config: PlatformConfig, tmp_path: Path
) -> None:
    _, output = _run(
        _job(execution_script="python -c 'import sys; print(sys.prefix)'"), small_config, tmp_path
    )
    assert output.strip() == sys.prefix


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_cli_run_local_runs_in_the_spec_folder_and_warns_of_missing_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("LOCAL_TEST_TOKEN_REF", raising=False)
    folder = tmp_path / "team-folder"
    folder.mkdir()
    (folder / "where.py").write_text("import os\nprint('cwd=' + os.getcwd())\n", encoding="utf-8")
    spec = folder / "where-am-i.yaml"
    spec.write_text(
        "job:\n  team: nlp\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/nlp/tools:0.3.1\n  execution_time: 1m\n"
        "  execution_script: python where.py\n"
        "  secrets: [{name: hf, key: token, env: LOCAL_TEST_TOKEN_REF}]\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 0
    assert f"cwd={folder}\n" in result.stdout
    assert "the image registry.internal/nlp/tools:0.3.1 is NOT used" in result.stderr
    assert "warning: secret env LOCAL_TEST_TOKEN_REF is not set locally" in result.stderr
    assert "memory 2Gi (process-tree RSS sampled every 50 ms" in result.stderr
    assert "Completed, exit 0" in result.stderr


def test_cli_run_local_exits_with_the_jobs_exit_code(tmp_path: Path) -> None:
    spec = tmp_path / "fails.yaml"
    spec.write_text(
        "job:\n  team: nlp\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/nlp/tools:0.3.1\n  execution_time: 1m\n"
        "  execution_script: echo failing; exit 7\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 7
    assert "Error, exit 7" in result.stderr


def test_cli_run_local_stops_a_pipeline_at_the_first_failing_task(tmp_path: Path) -> None:
    spec = tmp_path / "pipe.yaml"
    spec.write_text(
        "dag:\n  team: nlp\n  defaults: {resource_flavor: cpu-2gb, "
        "docker_image: registry.internal/nlp/tools:0.3.1, execution_time: 1m}\n"
        "tasks:\n  g:\n    third: {execution_script: echo third, depends_on: [second]}\n"
        "    second: {execution_script: echo second; exit 5, depends_on: [first]}\n"
        "    first: {execution_script: echo first}\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 5
    assert result.stdout == "first\nsecond\n"


def test_cli_run_local_with_a_config_enforces_its_memory(tmp_path: Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    spec = tmp_path / "hungry.yaml"
    spec.write_text(
        "job:\n  team: lab\n  resource_flavor: tiny\n  docker_image: registry.internal/lab/x:1\n"
        "  execution_time: 1m\n"
        f"  execution_script: [{sys.executable}, -c, \"b = b'x' * (256 << 20); import time; "
        'time.sleep(20)"]\n',
        encoding="utf-8",
    )
    result = _cli("run", "--local", "--config", str(config), str(spec))
    assert result.exit_code == 137
    assert "OOMKilled, exit 137" in result.stderr


def _is_spark(spec: Path) -> bool:
    return any(getattr(job, "spark", None) is not None for job in read_spec(spec).jobs)


def _uses_task_type(spec: Path) -> bool:
    return any(task.operator_type is not None for task in read_spec(spec).tasks)


# Spark examples start a JVM and take most of a minute: their `run --local` is proved in the
# Spark tier (tests/spark/test_local_etl_kerberos.py); examples of platform task types read a
# database: theirs in the postgres tier (tests/tasktypes/). Here they are validated only.
EXAMPLES = sorted(
    p for p in (REPO / "jobs").rglob("*.y*ml") if not _is_spark(p) and not _uses_task_type(p)
)


def test_examples_run_here_cover_a_cpu_job_a_gpu_job_and_a_pipeline() -> None:
    kinds = {type(read_spec(p).spec).__name__ for p in EXAMPLES}
    flavors = {job.resource_flavor for p in EXAMPLES for job in read_spec(p).jobs}
    assert kinds == {"JobSpec", "PipelineSpec"}
    assert any(f.startswith("gpu-") for f in flavors)
    assert any(f.startswith("cpu-") for f in flavors)


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_job_runs_locally_to_completion(
    spec: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("Completed, exit 0") >= 1


@pytest.mark.parametrize(
    ("script", "code", "says"),
    [
        (["./missing.sh"], 127, "./missing.sh: command not found (in "),
        (
            ["no-such-program-here", "--flag"],
            127,
            "no-such-program-here: command not found (on PATH)",
        ),
        (["./not-executable.sh"], 126, "./not-executable.sh: permission denied (in "),
    ],
)
def test_an_exec_form_program_that_cannot_start_exits_like_the_shell_without_a_traceback(
    tmp_path: Path, script: list[str], code: int, says: str
) -> None:
    (tmp_path / "not-executable.sh").write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
    spec = tmp_path / "job.yaml"
    items = ", ".join(script)
    spec.write_text(
        "job:\n  team: nlp\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/nlp/tools:0.3.1\n  execution_time: 1m\n"
        f"  execution_script: [{items}]\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert says in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert f"Error, exit {code}" in result.stderr


def test_a_local_oom_names_a_bigger_flavor(tmp_path: Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL_CONFIG, encoding="utf-8")
    spec = tmp_path / "hungry.yaml"
    spec.write_text(
        "job:\n  team: lab\n  resource_flavor: tiny\n  docker_image: registry.internal/lab/x:1\n"
        "  execution_time: 1m\n"
        f"  execution_script: [{sys.executable}, -c, \"b = b'x' * (256 << 20); import time; "
        'time.sleep(20)"]\n',
        encoding="utf-8",
    )
    result = _cli("run", "--local", "--config", str(config), str(spec))
    assert result.exit_code == 137
    assert (
        "out of memory: the job used more than flavor tiny's 64Mi; try resource_flavor: roomy (2Gi)"
        in result.stderr
    )


def test_a_local_gpu_job_says_plainly_that_no_gpu_is_attached(tmp_path: Path) -> None:
    spec = tmp_path / "gpu.yaml"
    spec.write_text(
        "job:\n  team: vision\n  resource_flavor: gpu-1x-24gb\n"
        "  docker_image: registry.internal/vision/train:1.4.2\n  execution_time: 1m\n"
        "  execution_script: echo trained\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 0
    assert (
        "warning: flavor gpu-1x-24gb has 1× NVIDIA-A10G, but no GPU is attached to a local run"
        in result.stderr
    )


def test_a_flavor_memory_limit_above_this_machines_memory_warns(tmp_path: Path) -> None:
    import psutil

    machine_gi = psutil.virtual_memory().total // 2**30
    config = tmp_path / "big.yaml"
    config.write_text(
        SMALL_CONFIG.replace(
            'roomy: {cpu: "1", memory: 2Gi}', f'huge: {{cpu: "1", memory: {machine_gi * 4}Gi}}'
        ),
        encoding="utf-8",
    )
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "job:\n  team: lab\n  resource_flavor: huge\n  docker_image: registry.internal/lab/x:1\n"
        "  execution_time: 1m\n  execution_script: echo fine\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", "--config", str(config), str(spec))
    assert result.exit_code == 0
    assert f"memory limit of {machine_gi * 4}Gi is more than this machine has" in result.stderr


def test_a_cpu_flavor_that_fits_this_machine_runs_without_warnings(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "job:\n  team: nlp\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/nlp/tools:0.3.1\n  execution_time: 1m\n"
        "  execution_script: echo fine\n",
        encoding="utf-8",
    )
    result = _cli("run", "--local", str(spec))
    assert result.exit_code == 0
    assert "warning" not in result.stderr
