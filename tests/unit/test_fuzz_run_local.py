"""Fuzzing `run --local`: whatever the spec, the script and the options, no traceback.

`validate` is fuzzed in test_fuzz_loader.py; this drives the command that also starts
processes, makes artifact folders and reads params. Hypothesis writes a spec into a team
folder (token soup, or a valid job or pipeline whose scripts, params, env and outputs are drawn
from pieces that go wrong in real life: missing programs, files that are not executable, a
folder as a program, non-zero exits, signals, odd bytes), then runs the real CLI in-process
with drawn `--task`, `--param` and `--run-id`. The only acceptable outcomes are the command's
own exits — 0, the job's exit code, 1/2 for refused input, 124/126/127/137 — never an
exception. Runs are deterministic (`derandomize=True`); scripts are harmless and short (every
drawn command ends within the 2-second limit), so the examples stay cheap.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from airflow_platform.cli import app

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# What argv can hold: no NUL, no lone surrogates from text that was never bytes.
ARG_TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40
)
SHELL = [
    "true", "false", "exit 3", "echo hi", "echo $AIRFLOW_PLATFORM_RUN_ID", "cat missing-file",
    "./missing.sh", "./run.sh", "./adir", "sleep 0.05", "kill -9 $$", "kill -TERM $$",
    'printf x > "$AIRFLOW_PLATFORM_OUTPUT_DIR/o.txt"', 'ls "$AIRFLOW_PLATFORM_INPUT_DIR"',
    'cat "$AIRFLOW_PLATFORM_INPUT_DIR/first/o.txt"', "echo é ✓", "printf '\\377\\376'",
    "python -c 'raise SystemExit(5)'", "python -c 'print(1/0)'", "exit 300", "exec 1>&-",
]  # fmt: skip
EXEC = [
    ["./run.sh"], ["papermill", "in.ipynb", "out.ipynb"], ["./adir"], ["python", "-c", "pass"],
    ["/dev/null"], ["no such program"], ["python", "-c", "import sys; sys.exit(7)"],
]  # fmt: skip
scripts = st.one_of(
    st.lists(st.sampled_from(SHELL), min_size=1, max_size=3).map("; ".join),
    st.sampled_from(EXEC),
    st.just(""),
    ARG_TEXT,
)
valid_scripts = st.one_of(
    st.lists(st.sampled_from(SHELL), min_size=1, max_size=3).map("; ".join),
    st.sampled_from(EXEC),
)
params = st.dictionaries(
    st.sampled_from(["rows", "name", "flag", "x"]),
    st.one_of(
        st.integers(-3, 3), st.booleans(), st.text(max_size=8), st.lists(st.integers(), max_size=2)
    ),
    max_size=3,
)
env = st.dictionaries(
    st.sampled_from(["GREETING", "PATH", "AIRFLOW_PLATFORM_RUN_ID", "HOME", "bad-name"]),
    st.text(max_size=10),
    max_size=2,
)


def _job(draw: st.DrawFn) -> dict[str, Any]:
    # Mostly valid, so that most examples start processes; one draw in four breaks a field.
    broken = draw(st.integers(0, 3)) == 0
    job: dict[str, Any] = {
        "resource_flavor": draw(st.sampled_from(["cpu-2gb", "gpu-1x-24gb", "cpu-3gb"]))
        if broken
        else "cpu-2gb",
        "docker_image": "registry.internal/vision/x:1.0",
        "execution_time": draw(st.sampled_from(["2s", "1s", "0s", "2 seconds"]))
        if broken
        else "2s",
        "execution_script": draw(scripts if broken else valid_scripts),
    }
    if draw(st.integers(0, 3)) == 0:
        job["env"] = draw(env if broken else st.just({"GREETING": "hi"}))
    if draw(st.integers(0, 3)) == 0:
        job["outputs"] = draw(
            st.lists(st.sampled_from(["*.txt", "**", "../x", "/abs", ""] if broken else ["*.txt"]))
        )
    return job


@st.composite
def specs(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["job", "job", "pipeline", "pipeline", "soup"]))
    if kind == "soup":
        tokens = ["job:", "dag:", "tasks:", "\n  ", "\n    ", " ", "{", "}", "[", "]", ",",
                  "execution_script: ", "true", "depends_on: ", "first", "- "]  # fmt: skip
        return "".join(draw(st.lists(st.sampled_from(tokens), max_size=30)))
    if kind == "job":
        job = _job(draw)
        if draw(st.integers(0, 2)) == 0:
            job["params"] = draw(params)
        return yaml.safe_dump({"job": job})
    first, second = _job(draw), _job(draw)
    second["depends_on"] = draw(st.sampled_from([["first"], ["first"], [], ["frist"], ["second"]]))
    dag: dict[str, Any] = {"name": "fuzz"}
    if draw(st.integers(0, 2)) == 0:
        dag["params"] = draw(params)
    return yaml.safe_dump({"dag": dag, "tasks": {"main": {"first": first, "second": second}}})


options = st.fixed_dictionaries(
    {
        "task": st.one_of(
            st.none(), st.none(), st.sampled_from(["first", "second", "fuzz"]), ARG_TEXT
        ),
        "param": st.lists(
            st.one_of(
                st.sampled_from(["rows=2", "rows=two", "flag=true", "name=", "=", "x=[1, 2]"]),
                ARG_TEXT,
            ),
            max_size=2,
        )
        | st.just([]),
        "run_id": st.one_of(
            st.none(), st.none(), ARG_TEXT, st.just("a" * 300), st.just("../../up")
        ),
    }
)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "jobs" / "vision"
    folder.mkdir(parents=True)
    script = folder / "run.sh"
    script.write_text("#!/bin/sh\necho never runs\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)  # not executable: exec form gets EACCES
    (folder / "adir").mkdir()
    return folder


@FUZZ
@given(text=specs(), opts=options)
def test_run_local_never_prints_a_traceback(
    team: Path, monkeypatch: pytest.MonkeyPatch, text: str, opts: dict[str, Any]
) -> None:
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    monkeypatch.setenv("AIRFLOW_PLATFORM_ARTIFACTS_DIR", str(team.parent.parent / "artifacts"))
    spec = team / "fuzz.yaml"
    spec.write_text(text, encoding="utf-8")
    args = ["run", "--local", str(spec)]
    if opts["task"] is not None:
        args += ["--task", opts["task"]]
    for value in opts["param"]:
        args += ["--param", value]
    if opts["run_id"] is not None:
        args += ["--run-id", opts["run_id"]]
    result = CliRunner().invoke(app, args)
    # `--hypothesis-show-statistics` shows how many examples ran a process (about a third).
    event(f"exit {result.exit_code}" + (", ran" if "▶" in result.output else ", refused"))
    context = json.dumps({"args": args[3:], "spec": text}, ensure_ascii=False)
    # CliRunner turns typer.Exit into SystemExit; any other exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception} for {context}"
    )
    # Those jobs' own Python tracebacks (a ZeroDivisionError, papermill's missing notebook) are
    # their output, not ours.
    if "1/0" not in text and "papermill" not in text:
        assert "Traceback (most recent call last)" not in result.output, context


def _valid_job(team: Path) -> Path:
    spec = team / "ok.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "job": {
                    "resource_flavor": "cpu-2gb",
                    "docker_image": "registry.internal/vision/x:1.0",
                    "execution_time": "2s",
                    "execution_script": "true",
                }
            }
        )
    )
    return spec


# Found by the fuzz test above: both were tracebacks (OSError) before.
def test_a_run_id_longer_than_airflow_allows_is_refused_in_one_line(team: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "--local", str(_valid_job(team)), "--run-id", "a" * 251]
    )
    assert (result.exit_code, result.stderr) == (
        2,
        "error: --run-id must be 1 to 250 characters (Airflow's limit)\n",
    )


def test_an_artifacts_folder_that_cannot_be_made_is_refused_in_one_line(team: Path) -> None:
    blocker = team / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(
        app, ["run", "--local", str(_valid_job(team)), "--artifacts", str(blocker / "sub")]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: cannot make the artifacts folder {blocker / 'sub'}: Not a directory\n"
    )
