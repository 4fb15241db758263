"""Notebook jobs (`execution_notebook:` + `parameters:`): the spec's types, the loader's check of
the notebook file (real nbformat), the pod the builder makes, and `run --local` through the real
papermill and a real IPython kernel — nothing of ours or theirs replaced.

The bad-spec corpus (tests/data/bad_specs/*notebook*) holds the located messages; these tests
cover what the corpus cannot: what reaches the pod, what a run prints and keeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_platform import notebook_entry
from airflow_platform.artifacts import TaskArtifacts
from airflow_platform.config import PlatformConfig
from airflow_platform.pods import build_pod, job_command, pod_to_dict
from airflow_platform.runners.local import run_local
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import parse_spec_data, read_spec
from airflow_platform.spec.models import JobSpec
from airflow_platform.spec.notebooks import (
    MAX_NOTEBOOK_BYTES,
    NotebookError,
    assigned_names,
    load_notebook,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
IMAGE = "registry.internal/airflow-platform/job-notebook:0.1.0"


def _notebook(
    path: Path, *cells: str, parameters: str | None = None, language: str | None = "python"
) -> Path:
    """Writes a notebook: an optional cell tagged `parameters`, then ``cells``."""
    notebook = nbformat.v4.new_notebook()
    if parameters is not None:
        tagged = nbformat.v4.new_code_cell(parameters)
        tagged.metadata["tags"] = ["parameters"]
        notebook.cells.append(tagged)
    notebook.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    if language is not None:
        notebook.metadata["kernelspec"]["language"] = language
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def _spec(folder: Path, body: str, name: str = "report.yaml") -> Path:
    spec = folder / name
    spec.write_text(
        "job:\n  team: analytics\n  resource_flavor: cpu-2gb\n"
        f"  docker_image: {IMAGE}\n  execution_time: 2 minutes\n{body}",
        encoding="utf-8",
    )
    return spec


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """A spec folder with a notebook whose parameters cell sets `rows` and `title`."""
    _notebook(
        tmp_path / "nb" / "report.ipynb",
        "print(f'{title}: {rows * 2} rows')",
        parameters="rows = 1\ntitle = 'default'",
    )
    return tmp_path


# ---------------------------------------------------------------- the spec and the loader


def test_parameters_written_as_yaml_text_are_typed_as_params_are(report: Path) -> None:
    spec = _spec(
        report,
        "  execution_notebook: nb/report.ipynb\n"
        "  parameters: {rows: 3, title: 'true story', flag: true, ratio: 0.5, ids: [1, x]}\n",
    )
    report.joinpath("nb/report.ipynb").unlink()
    _notebook(report / "nb/report.ipynb", parameters="rows = title = flag = ratio = ids = 0")
    job = read_spec(spec).spec
    assert isinstance(job, JobSpec)
    assert job.parameters == {
        "rows": 3,
        "title": "true story",
        "flag": True,
        "ratio": 0.5,
        "ids": [1, "x"],
    }


def test_the_loader_reads_the_notebook_from_the_specs_folder_with_outputs_stripped(
    report: Path,
) -> None:
    notebook = nbformat.read(report / "nb/report.ipynb", as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    nbformat.write(notebook, report / "nb/report.ipynb")
    job = read_spec(_spec(report, "  execution_notebook: nb/report.ipynb\n")).spec
    assert isinstance(job, JobSpec)
    assert job.notebook_content is not None
    carried = nbformat.reads(job.notebook_content, as_version=4)
    assert [c.source for c in carried.cells] == [c.source for c in notebook.cells]
    assert all(c.outputs == [] for c in carried.cells)
    assert "old output" not in job.notebook_content


def test_a_notebook_over_the_cap_is_refused_with_its_size(tmp_path: Path) -> None:
    big = "x = '" + "a" * MAX_NOTEBOOK_BYTES + "'"
    _notebook(tmp_path / "big.ipynb", big)
    with pytest.raises(NotebookError, match=r"big.ipynb is 9\d KiB without its outputs"):
        load_notebook(tmp_path, "big.ipynb", {})


def test_a_notebook_without_parameters_needs_no_parameters_cell(tmp_path: Path) -> None:
    _notebook(tmp_path / "plain.ipynb", "print(1)")
    assert json.loads(load_notebook(tmp_path, "plain.ipynb", {}))["nbformat"] == 4


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("rows = 1\ntitle: str = 'x'\na, b = 1, 2\n[c, d] = 3, 4\ne += 1", {"rows", "title", "a", "b", "c", "d", "e"}),
        ("if True:\n    hidden = 1\ndef f():\n    inner = 2", set()),
        ("%matplotlib inline\nrows = 3\nlimit: int = 4\nequal == 5", {"rows", "limit"}),
        ("import os; os.system('touch /tmp/pwned')", set()),
    ],
    ids=["assignments", "nested-not-top-level", "magics-read-by-line", "never-run"],
)  # fmt: skip
def test_the_parameters_cell_is_parsed_for_the_names_it_assigns(
    source: str, names: set[str]
) -> None:
    assert assigned_names(source) == names


def test_a_pipeline_notebook_task_does_not_inherit_the_default_script(report: Path) -> None:
    spec = report / "weekly.yaml"
    spec.write_text(
        "dag: {team: analytics, defaults: {resource_flavor: cpu-2gb, docker_image: "
        f"{IMAGE}, execution_time: 2 minutes, execution_script: python prep.py}}}}\n"
        "tasks:\n  main:\n    prep: {}\n"
        "    report: {execution_notebook: nb/report.ipynb, parameters: {rows: 2},"
        " depends_on: [prep]}\n",
        encoding="utf-8",
    )
    doc = read_spec(spec)
    prep, task = doc.tasks
    assert (prep.job.execution_script, prep.job.execution_notebook) == ("python prep.py", None)
    assert task.job.execution_script is None
    assert task.job.execution_notebook == "nb/report.ipynb"
    assert task.job.parameters == {"rows": 2}
    assert task.job.notebook_content is not None
    assert "rows = 1" in task.job.notebook_content


def test_the_submitted_job_carries_its_notebook_and_a_conf_without_it_is_refused(
    report: Path,
) -> None:
    job = read_spec(_spec(report, "  execution_notebook: nb/report.ipynb\n")).spec
    assert isinstance(job, JobSpec)
    sent = {"job": job.model_dump(mode="json")}  # what `submit` sends
    assert parse_spec_data(sent, "<run conf>").spec == job
    del sent["job"]["notebook_content"]
    with pytest.raises(SpecError, match="the notebook's content is not in the data"):
        parse_spec_data(sent, "<run conf>")


@settings(
    max_examples=150,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
            max_leaves=5,
        ),
        max_size=4,
    )
)  # fmt: skip
def test_any_parameters_either_validate_to_literals_or_fail_as_a_validation_error(
    parameters: dict[str, Any],
) -> None:
    fields = {
        "name": "fuzz",
        "team": "analytics",
        "resource_flavor": "cpu-2gb",
        "docker_image": IMAGE,
        "execution_time": "1m",
        "execution_notebook": "fuzz.ipynb",
    }
    try:
        job = JobSpec.model_validate({**fields, "parameters": parameters})
    except ValidationError:
        return
    for name, value in job.parameters.items():
        assert name.isidentifier()
        for item in value if isinstance(value, list) else [value]:
            assert isinstance(item, str | int | float | bool)
    # What the pod gets is JSON that papermill turns into Python literals.
    assert json.loads(json.dumps(job.parameters)) == job.parameters


@settings(max_examples=200, derandomize=True, database=None)
@given(st.text(max_size=200))
def test_reading_any_cell_source_never_raises(source: str) -> None:
    assert isinstance(assigned_names(source), set)


# ---------------------------------------------------------------- the pod


def test_the_pod_runs_papermill_through_the_entry_with_notebook_and_parameters_in_env(
    report: Path, default_config: PlatformConfig
) -> None:
    spec = _spec(
        report, "  execution_notebook: nb/report.ipynb\n  parameters: {rows: 3, title: T}\n"
    )
    job = read_spec(spec).spec
    assert isinstance(job, JobSpec)
    container = pod_to_dict(build_pod(job, default_config))["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["command"][-4:] == job_command(job)
    assert job_command(job) == notebook_entry.command(IMAGE)
    assert job_command(job)[:2] == ["python", "-c"]
    assert job_command(job)[-1] == IMAGE
    assert env["AIRFLOW_PLATFORM_NOTEBOOK_NAME"] == "report.ipynb"
    assert json.loads(env["AIRFLOW_PLATFORM_NOTEBOOK_PARAMETERS"]) == {"rows": 3, "title": "T"}
    assert env["AIRFLOW_PLATFORM_NOTEBOOK"] == job.notebook_content
    compile(job_command(job)[2], "<notebook entry>", "exec")  # the code the pod runs parses


# ---------------------------------------------------------------- run --local (real papermill)


def _run(job: JobSpec, config: PlatformConfig, cwd: Path, root: Path) -> tuple[int, str, Path]:
    """Runs ``job`` in ``cwd``, keeping its artifacts under ``root``."""
    lines: list[str] = []
    kept = TaskArtifacts(root, "report", "run-1", "report")
    result = run_local(job, config, cwd=cwd, on_output=lines.append, artifacts=kept)
    assert result.output_dir is not None
    return result.exit_code, "".join(lines), result.output_dir


def test_a_local_run_injects_the_parameters_and_keeps_the_executed_notebook(
    report: Path, default_config: PlatformConfig
) -> None:
    spec = _spec(
        report,
        "  execution_notebook: nb/report.ipynb\n"
        "  parameters: {rows: 21, title: \"__import__('os').getcwd()\"}\n",
    )
    job = read_spec(spec).spec
    assert isinstance(job, JobSpec)
    code, log, output = _run(job, default_config, report, report / "kept")
    assert code == 0, log
    # The text stays text: papermill writes it as a string literal, nothing evaluates it.
    assert "__import__('os').getcwd(): 42 rows" in log
    executed = nbformat.read(output / "report.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "rows = 21" in injected[0].source
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "42 rows" in printed


def test_a_notebook_that_names_no_language_runs_in_the_python_kernel(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    """nbformat's new notebooks name no language, and papermill needs one to write the
    parameters: the entry says Python, the job images' kernel."""
    _notebook(
        tmp_path / "bare.ipynb", "print(f'{rows} rows')", parameters="rows = 1", language=None
    )
    job = read_spec(
        _spec(tmp_path, "  execution_notebook: bare.ipynb\n  parameters: {rows: 5}\n")
    ).spec
    assert isinstance(job, JobSpec)
    code, log, _ = _run(job, default_config, tmp_path, tmp_path / "kept")
    assert code == 0, log
    assert "5 rows" in log


def test_a_failing_cell_ends_the_log_with_its_error_not_our_traceback(
    tmp_path: Path, default_config: PlatformConfig
) -> None:
    _notebook(
        tmp_path / "fail.ipynb",
        "ok = 'first cell ran'\nprint(ok)",
        "def ratio(n):\n    return 1 / n\nratio(rows - rows)",
        "print('never printed')",
        parameters="rows = 1",
    )
    job = read_spec(
        _spec(tmp_path, "  execution_notebook: fail.ipynb\n  parameters: {rows: 4}\n")
    ).spec
    assert isinstance(job, JobSpec)
    code, log, output = _run(job, default_config, tmp_path, tmp_path / "kept")
    assert code == 1
    assert "first cell ran" in log
    assert "never printed" not in log
    assert "airflow-platform: notebook fail.ipynb failed in cell" in log
    tail = log[log.index("failed in cell") :]
    assert "ZeroDivisionError: division by zero" in tail
    assert "----> 3 ratio(rows - rows)" in tail
    # The only traceback is the cell's (papermill's PapermillExecutionError text).
    assert "Traceback (most recent call last):\n  File" not in log
    assert "notebook_entry" not in log
    assert "papermill/execute.py" not in log
    # The executed notebook is kept, with the error in it, for debugging.
    executed = nbformat.read(output / "fail.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ZeroDivisionError"]


def test_an_image_without_papermill_fails_with_a_message_saying_so(
    report: Path, default_config: PlatformConfig, tmp_path: Path
) -> None:
    # A real interpreter without papermill: a bare venv of this Python.
    bare = tmp_path / "bare"
    venv.create(bare, with_pip=False, system_site_packages=False)
    job = read_spec(_spec(report, "  execution_notebook: nb/report.ipynb\n")).spec
    assert isinstance(job, JobSpec)
    command = [str(bare / "bin" / "python"), *job_command(job)[1:]]
    env = {
        "PATH": os.environ["PATH"],
        "AIRFLOW_PLATFORM_NOTEBOOK_NAME": "report.ipynb",
        "AIRFLOW_PLATFORM_NOTEBOOK": job.notebook_content or "",
        "AIRFLOW_PLATFORM_WORK_DIR": str(tmp_path),
        "AIRFLOW_PLATFORM_OUTPUT_DIR": str(tmp_path),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 127
    assert done.stdout == ""
    assert done.stderr == (
        f"airflow-platform: image {IMAGE} has no papermill (for {bare / 'bin' / 'python'}), "
        "which notebook jobs need; build FROM registry.internal/airflow-platform/job-notebook "
        "or pip install papermill ipykernel\n"
    )
    assert sys.executable != str(bare / "bin" / "python")


def test_the_example_notebook_job_runs_locally(
    default_config: PlatformConfig, tmp_path: Path
) -> None:
    spec = REPO / "jobs/analytics/report-notebook.yaml"
    job = read_spec(spec).spec
    assert isinstance(job, JobSpec)
    code, log, output = _run(job, default_config, spec.parent, tmp_path)
    assert code == 0, log
    assert json.loads((output / "fares.json").read_text()) == {"north": 45.9, "south": 27.5}
    assert (output / "fares.ipynb").is_file()
