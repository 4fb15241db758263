"""A notebook job on the real node: papermill runs it in the job-notebook image's pod, run by
real Airflow (`dag.test()`) with the real SeaweedFS store.

The notebook is written by the test beside its spec, as a team would keep it in its folder; the
DAG factory reads it, the pod gets it and its `parameters`, and the image built from
images/notebook runs it. Nothing here stands in for a part: pod, kernel and store are real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook

from tests.airflow.store import PREFIX
from tests.airflow.test_job_operator_node import _run
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore

pytestmark = [pytest.mark.airflow, pytest.mark.node, pytest.mark.objectstore]
NOTEBOOK_IMAGE = "registry.internal/airflow-platform/job-notebook:0.1.0"
WRITE_RESULT = (
    "import json, os, pathlib\n"
    "out = pathlib.Path(os.environ['AIRFLOW_PLATFORM_OUTPUT_DIR'])\n"
    "_ = (out / 'report.json').write_text(json.dumps({'rows': rows, 'label': label}))\n"
    "print(f'report of {rows} rows: {label}')"
)


@pytest.fixture
def notebook_image(real_node: RealNode) -> None:
    """The job-notebook image (images/notebook) on the node, as `make images` built it."""
    real_node.import_images(["job-notebook"])


def _write_notebook_job(jobs_dir: Path, name: str, *cells: str) -> None:
    team = jobs_dir / "vision"
    team.mkdir(exist_ok=True)
    notebook = new_notebook(
        cells=[
            new_code_cell("rows = 1\nlabel = 'default'", metadata={"tags": ["parameters"]}),
            *(new_code_cell(source) for source in cells),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    (team / f"{name}.ipynb").write_text(nbformat.writes(notebook))
    job = {
        "name": name,
        "team": "vision",
        "resource_flavor": "node-512mb",
        "docker_image": NOTEBOOK_IMAGE,
        "execution_time": "3 minutes",
        "execution_notebook": f"{name}.ipynb",
        "parameters": {"rows": 42, "label": "weekly"},
    }
    (team / f"{name}.yaml").write_text(yaml.safe_dump({"job": job}))


def test_a_notebook_runs_with_its_parameters_and_the_executed_notebook_is_kept(
    store_backend: Any,
    notebook_image: None,
    jobs_dir: Path,
    object_store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write_notebook_job(jobs_dir, "node-notebook", WRITE_RESULT)
    run, _ = _run("node-notebook")
    out = capsys.readouterr().out
    assert run.state == "success", out[-3000:]
    assert "report of 42 rows: weekly" in out  # the cell's output is in the task log
    root = f"{PREFIX}/node-notebook/{run.run_id}/node-notebook/1"
    assert {f"{root}/report.json", f"{root}/node-notebook.ipynb"} <= set(
        object_store.keys(f"{root}/")
    )

    def read(key: str) -> str:
        body = object_store.client().get_object(Bucket=object_store.bucket, Key=key)["Body"]
        return str(body.read().decode())

    assert json.loads(read(f"{root}/report.json")) == {"rows": 42, "label": "weekly"}
    executed = nbformat.reads(read(f"{root}/node-notebook.ipynb"), as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "rows = 42" in injected[0].source


def test_a_failing_cell_fails_the_task_with_its_error_and_keeps_the_executed_notebook(
    store_backend: Any,
    notebook_image: None,
    jobs_dir: Path,
    object_store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _write_notebook_job(
        jobs_dir, "node-notebook-fails", "raise ValueError(f'no data for {label} ({rows} rows)')"
    )
    _, tis = _run("node-notebook-fails")
    out = capsys.readouterr().out
    assert tis["node-notebook-fails"].state == "failed"
    assert "notebook node-notebook-fails.ipynb failed in cell" in out
    assert "ValueError: no data for weekly (42 rows)" in out
    keys = object_store.keys(f"{PREFIX}/node-notebook-fails/")
    assert any(key.endswith("/node-notebook-fails.ipynb") for key in keys), keys
