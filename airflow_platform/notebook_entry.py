"""The program a notebook job runs: papermill executes the notebook with its parameters.

The pod runs this file's source with ``python -c`` (``command``), so the image needs Python
and papermill, not this package; it therefore imports only the standard library at the top.
It reads the notebook, its name and its parameters from the variables the pod builder sets
(``airflow_platform.spec.notebooks.notebook_env``) and writes the executed notebook to
``$AIRFLOW_PLATFORM_OUTPUT_DIR/<name>``, which the task keeps as an artifact, also when a cell
fails. A failing cell's error (papermill's ``PapermillExecutionError``: the cell and its
traceback) is what the log ends with; an image without papermill gets a message that says so.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

NOTEBOOK_IMAGE = "registry.internal/airflow-platform/job-notebook"
_PREFIX = "airflow-platform:"


def _say(message: str) -> None:
    print(f"{_PREFIX} {message}", file=sys.stderr, flush=True)


def main(image: str) -> int:
    """Runs the notebook; 0 when every cell ran, 1 when one failed, 127 without papermill."""
    try:
        import papermill
    except ImportError:
        _say(
            f"image {image} has no papermill (for {sys.executable}), which notebook jobs "
            f"need; build FROM {NOTEBOOK_IMAGE} or pip install papermill ipykernel"
        )
        return 127
    name = os.environ["AIRFLOW_PLATFORM_NOTEBOOK_NAME"]
    source = Path(os.environ["AIRFLOW_PLATFORM_WORK_DIR"]) / f"input-{name}"
    text = os.environ["AIRFLOW_PLATFORM_NOTEBOOK"]
    source.write_text(text, encoding="utf-8")
    metadata = json.loads(text).get("metadata") or {}
    # A notebook written by a script often names no language; the job images' kernel is Python.
    named = (metadata.get("kernelspec") or {}).get("language") or (
        metadata.get("language_info") or {}
    ).get("name")
    executed = Path(os.environ["AIRFLOW_PLATFORM_OUTPUT_DIR"]) / name
    parameters = json.loads(os.environ.get("AIRFLOW_PLATFORM_NOTEBOOK_PARAMETERS") or "{}")
    # The cells' output goes to the log as it comes (papermill logs it at INFO).
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    _say(f"running {name} with papermill {papermill.__version__}, parameters {parameters}")
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            language=None if named else "python",
            log_output=True,
            progress_bar=False,
            cwd=str(Path.cwd()),
        )
    except papermill.PapermillExecutionError as exc:
        _say(f"notebook {name} failed in cell {exc.exec_count} (executed notebook: {executed})")
        print(str(exc).strip(), file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # no kernel, a broken notebook: one line, not our traceback
        _say(f"notebook {name} could not run: {type(exc).__name__}: {exc}")
        return 1
    _say(f"notebook {name} ran; executed notebook: {executed}")
    return 0


def command(image: str) -> list[str]:
    """The container command that runs this program in ``image`` (its code without the
    module's docstring, which the pod need not carry)."""
    code = Path(__file__).read_text(encoding="utf-8").split('"""', 2)[2].lstrip()
    return ["python", "-c", code, image]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "this image"))
