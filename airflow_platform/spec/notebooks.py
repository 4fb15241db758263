"""Notebook jobs: the spec's ``execution_notebook:`` path and ``parameters:``, and the check
of the notebook file itself, which the loader reads from the spec's folder.

Parameters are data: numbers, ``true``/``false``, text, or lists of them, which papermill
writes as Python literals into a cell after the one tagged ``parameters``. Nothing here (or
in the pod) evaluates a spec's text; the parameters cell is parsed (``ast.parse``) only to
find the names it assigns.

The notebook's JSON travels to the pod in an environment variable (``NOTEBOOK_ENV``), outputs
stripped; Linux caps one variable at 128 KiB (``MAX_ARG_STRLEN``), so a notebook may be at most
``MAX_NOTEBOOK_BYTES``. A bigger one belongs in the image, run with ``execution_script``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from airflow_platform.spec.errors import shorten
from airflow_platform.spec.params import ParamError, infer_item, parse_scalar

MAX_NOTEBOOK_BYTES = 96 * 1024
"""The largest notebook (its JSON, outputs stripped) a notebook job may run."""
PARAMETERS_TAG = "parameters"
NOTEBOOK_ENV = "AIRFLOW_PLATFORM_NOTEBOOK"
"""The notebook's JSON, in the pod."""
NOTEBOOK_NAME_ENV = "AIRFLOW_PLATFORM_NOTEBOOK_NAME"
"""The notebook's file name: the executed notebook is ``$AIRFLOW_PLATFORM_OUTPUT_DIR/<name>``."""
PARAMETERS_ENV = "AIRFLOW_PLATFORM_NOTEBOOK_PARAMETERS"
"""The parameters as a JSON object, in the pod."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


class NotebookError(ValueError):
    """Why a notebook file cannot run: ``message``, ``hint``, and the parameter it is about
    (``None`` when it is the file itself)."""

    def __init__(self, message: str, hint: str, parameter: str | None = None) -> None:
        super().__init__(f"{message}; {hint}")
        self.message = message
        self.hint = hint
        self.parameter = parameter


def _check_path(value: str) -> str:
    parts = value.split("/")
    if not value.endswith(".ipynb") or value.startswith("/") or ".." in parts:
        raise ValueError(
            f"'{shorten(value)}' is not a notebook inside the spec's folder: give a relative "
            "path to a .ipynb file, e.g. 'report.ipynb'"
        )
    return value


NotebookPath = Annotated[
    str,
    AfterValidator(_check_path),
    WithJsonSchema({"type": "string", "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$)).*\.ipynb$"}),
]

Value = int | float | bool | str | list[int | float | bool | str]


def _value(value: Any) -> Value:
    """A parameter's value: YAML gives text, which is typed as ``params`` types it (``3`` a
    number, ``true`` a boolean); JSON (an ad-hoc run's conf) gives it typed already."""
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    return _scalar(value)


def _scalar(value: Any) -> int | float | bool | str:
    if isinstance(value, dict | list) or value is None:
        kind = "null" if value is None else "a mapping" if isinstance(value, dict) else "a list"
        raise ValueError(f"a parameter is a number, true/false, text or a list of them, not {kind}")
    try:
        return parse_scalar(value, infer_item(value))
    except ParamError as exc:
        raise ValueError(str(exc)) from None


def _check_parameters(value: Any) -> Any:
    if not isinstance(value, dict):
        raise ValueError("`parameters` is a mapping of names to values, e.g. {rows: 3}")
    out: dict[str, Value] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise ValueError(
                f"'{shorten(str(name))}' is not a parameter name: papermill assigns it as a "
                "Python variable (letters, digits and '_', not starting with a digit)"
            )
        try:
            out[name] = _value(item)
        except ValueError as exc:
            raise ValueError(f"parameter '{name}': {exc}") from None
    return out


NotebookParameters = Annotated[
    dict[str, Any],
    BeforeValidator(_check_parameters),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {
                "anyOf": [
                    {"type": ["string", "number", "boolean"]},
                    {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
                ]
            },
        }
    ),
]


def load_notebook(folder: Path, relative: str, parameters: Mapping[str, Any]) -> str:
    """The notebook at ``folder/relative`` as the JSON text the pod runs (outputs stripped);
    raises ``NotebookError`` when it is missing, not a notebook, too big, or lacks the
    parameters cell (or one of the names) that ``parameters`` need."""
    import nbformat  # only where a spec runs a notebook: the loader stays quick to import

    path = folder / relative
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotebookError(
            f"no notebook {relative} in {folder}", "give its path relative to the spec's folder"
        ) from None
    except (OSError, ValueError) as exc:  # a folder, no permission, a NUL in the name
        why = getattr(exc, "strerror", None) or str(exc)
        raise NotebookError(f"cannot read {relative}: {why}", "check the file") from None
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(notebook)
    except (UnicodeDecodeError, ValueError, nbformat.ValidationError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(
            f"{relative} is not a Jupyter notebook ({shorten(first, 120)})",
            "save it from Jupyter as .ipynb (nbformat 4)",
        ) from None
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    text: str = nbformat.writes(notebook)  # type: ignore[no-untyped-call]
    if len(text.encode()) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"{relative} is {len(text.encode()) // 1024} KiB without its outputs; a notebook "
            f"job's notebook may be at most {MAX_NOTEBOOK_BYTES // 1024} KiB",
            "move data and code out of it (read files, import modules), or build it into "
            "the image and run it with `execution_script: papermill ...`",
        )
    if parameters:
        _check_parameters_cell(notebook, relative, parameters)
    return text


def _check_parameters_cell(notebook: Any, relative: str, parameters: Mapping[str, Any]) -> None:
    cell = next(
        (
            c
            for c in notebook.cells
            if c.cell_type == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if cell is None:
        raise NotebookError(
            f"{relative} has no cell tagged `{PARAMETERS_TAG}`, which `parameters` go into",
            "in Jupyter, add the tag `parameters` to the code cell that sets their defaults "
            "(View → Cell Toolbar → Tags)",
        )
    assigned = assigned_names(cell.source)
    for name in parameters:
        if name not in assigned:
            raise NotebookError(
                f"the `{PARAMETERS_TAG}` cell of {relative} does not assign '{name}'",
                f"give it a default there (`{name} = ...`), or check the name",
                parameter=name,
            )


def assigned_names(source: str) -> set[str]:
    """The names a cell assigns at its top level (parsed, never run); a cell Python cannot
    parse (an IPython magic) is read line by line."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(_ASSIGNED.findall(source))
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            elements = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            names.update(e.id for e in elements if isinstance(e, ast.Name))
    return names


def notebook_env(notebook: str, content: str, parameters: Mapping[str, Any]) -> dict[str, str]:
    """The variables the pod's notebook entry (``airflow_platform.notebook_entry``) reads."""
    return {
        NOTEBOOK_NAME_ENV: Path(notebook).name,
        NOTEBOOK_ENV: content,
        PARAMETERS_ENV: json.dumps(dict(parameters), sort_keys=True),
    }
