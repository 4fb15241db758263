"""The ``task_types:`` section of the platform config: what a named task type runs and which
parameters a spec passes it.

A spec task names a type (``operator_type: pg_to_csv``) and gives its parameters under
``with:``; ``airflow_platform.tasktypes.calls`` checks them against ``TaskType.parameters``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from airflow_platform.spec.errors import shorten

ParameterType = Literal["string", "integer", "number", "boolean", "string_list"]
Value = str | int | float | bool | list[str]
PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_INTEGER = re.compile(r"[-+]?\d+")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_TRUE, _FALSE = ("true", "yes", "on"), ("false", "no", "off")

_STRICT = ConfigDict(extra="forbid", frozen=True)


def _check_parameter_name(value: str) -> str:
    if not PARAMETER_NAME.fullmatch(value):
        raise ValueError(
            f"'{shorten(value)}' is not a valid parameter name: use lowercase letters, digits "
            "and '_', starting with a letter"
        )
    return value


def _check_type_name(value: str) -> str:
    if not TYPE_NAME.fullmatch(value):
        raise ValueError(
            f"'{shorten(value)}' is not a valid task type name: use lowercase letters, digits "
            "and '_', starting with a letter (e.g. pg_to_csv)"
        )
    return value


ParameterName = Annotated[str, AfterValidator(_check_parameter_name)]
TypeName = Annotated[str, AfterValidator(_check_type_name)]


def coerce(kind: ParameterType, value: Any) -> Value:
    """``value`` as a parameter of type ``kind``; raises ``ValueError`` saying what to write.

    The spec reader gives every YAML scalar as its text, so numbers and booleans are read
    back from text here (``limit: 10`` arrives as ``"10"``).
    """
    if kind == "string_list":
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise ValueError("expected a list of strings, e.g. [id, fare]")
        return [str(v) for v in value]
    if isinstance(value, list | dict) or value is None:
        raise ValueError(f"expected {DESCRIBE[kind]}, not {_SHAPE[type(value)]}")
    text = str(value).strip()
    if kind == "string":
        return str(value)
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"'{shorten(text)}' is not a boolean: write true or false")
    if kind == "integer":
        if not _INTEGER.fullmatch(text):
            raise ValueError(f"'{shorten(text)}' is not a whole number, e.g. 1000")
        return int(text)
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"'{shorten(text)}' is not a number, e.g. 0.5")
    return float(text)


_SHAPE = {list: "a list", dict: "a mapping", type(None): "an empty value"}
DESCRIBE = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "string_list": "a list of strings",
}


class TaskTypeParameter(BaseModel):
    """One parameter a task type takes, checked in every spec that uses the type."""

    model_config = _STRICT

    type: ParameterType = Field(
        description="The value's type: string, integer, number, boolean or string_list.",
        examples=["string_list"],
    )
    description: str = Field(
        description="What the parameter means, shown in the editor and the docs.",
        examples=["Columns to extract, in order."],
    )
    required: bool = Field(
        default=False, description="Whether a spec must give it (then it has no default)."
    )
    default: Value | None = Field(
        default=None,
        description="The value when a spec leaves it out; absent: the program receives none.",
        examples=["data.csv"],
    )

    @model_validator(mode="after")
    def _default_fits(self) -> TaskTypeParameter:
        if self.default is None:
            return self
        if self.required:
            raise ValueError("a required parameter has no default: remove one of the two")
        try:
            coerce(self.type, self.default)
        except ValueError as exc:
            raise ValueError(f"default: {exc}") from None
        return self


class TaskType(BaseModel):
    """A named task type: an image and an exec-form command that receive the spec's
    parameters as one JSON object (``--parameters <json>`` after the command)."""

    model_config = _STRICT

    description: str = Field(
        description="What the type does, shown in the editor and the docs.",
        examples=["Extract a PostgreSQL query or table to a CSV file."],
    )
    image: str = Field(
        description="The image the task runs in (the policy's allowed images apply).",
        examples=["registry.internal/airflow-platform/airflow:0.1.0"],
    )
    command: list[str] = Field(
        min_length=1,
        description="The program, in exec form (never run by a shell).",
        examples=[["python", "-m", "airflow_platform.tasktypes.pg_to_csv"]],
    )
    parameters: dict[ParameterName, TaskTypeParameter] = Field(
        default_factory=dict, description="The parameters a spec gives under `with:`."
    )
    flavors: list[str] | None = Field(
        default=None,
        description="The flavors a task of this type may use; absent: any the team may use.",
        examples=[["cpu-2gb", "cpu-4gb"]],
    )
