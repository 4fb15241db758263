"""Typed run parameters (``params:``): their declaration, their values and their env vars.

A pipeline (or a job) declares ``params:``; a run may override them (`run --local --param`,
`submit --param`, Airflow's trigger form) and each reaches the job as an environment variable
named after it in upper case (``min_improvement`` → ``MIN_IMPROVEMENT``). Values are checked
against the declared type before any pod or process starts; nothing is ever rendered by Jinja.

The spec reader turns every YAML scalar into its text (``airflow_platform.spec.yamlsafe``), so
the short form ``rows: 3`` infers its type from the text: ``true``/``false`` is a boolean, a
number is a number, anything else a string (``rows: "3"`` is a number too: write the long form
``{type: string, default: "3"}`` for text that looks like a number).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from airflow_platform.spec.errors import shorten

ParamType = Literal["string", "number", "boolean", "list"]
ItemType = Literal["string", "number", "boolean"]
Scalar = str | int | float | bool
Value = Scalar | list[Scalar]

PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
RESERVED_PARAMS = frozenset({"critical"})
"""Params the platform keeps for itself on every DAG (``critical`` decides who is paged)."""
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INT = re.compile(r"[-+]?\d+")


class ParamError(ValueError):
    """A param value that is not of its declared type (the message says which and why)."""


def env_name(param: str) -> str:
    """The environment variable a param reaches the job as: its name in upper case."""
    return param.upper()


def _check_param_name(value: str) -> str:
    if not PARAM_NAME.fullmatch(value):
        suggestion = re.sub(r"[^A-Za-z0-9_]+", "_", value).strip("_").lower()
        hint = f"; try '{suggestion}'" if suggestion and PARAM_NAME.fullmatch(suggestion) else ""
        raise ValueError(
            f"'{shorten(value)}' is not a valid param name: use letters, digits and '_', not "
            f"starting with a digit, at most 63 characters (it becomes an environment "
            f"variable){hint}"
        )
    if value.lower() in RESERVED_PARAMS:
        raise ValueError(f"'{value}' is a param the platform sets itself: give yours another name")
    # The platform's own variables (AIRFLOW_PLATFORM_*, HOME, ...): imported late, the models
    # import this module.
    from airflow_platform.spec.models import platform_env

    if platform_env(env_name(value)):
        raise ValueError(
            f"param '{value}' would reach the job as ${env_name(value)}, which the platform "
            "sets itself: give it another name"
        )
    return value


ParamName = Annotated[
    str,
    AfterValidator(_check_param_name),
    WithJsonSchema({"type": "string", "pattern": f"^{PARAM_NAME.pattern}$"}),
]


def infer_type(value: Any) -> ParamType:
    """The type the short form ``name: value`` declares."""
    if isinstance(value, list):
        return "list"
    return infer_item(value)


def infer_item(value: Any) -> ItemType:
    if isinstance(value, bool) or (isinstance(value, str) and value in ("true", "false")):
        return "boolean"
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        return "number"
    return "string"


def parse_scalar(value: Any, kind: ItemType) -> Scalar:
    """``value`` as ``kind``. Text (from YAML or a command line) is parsed; a typed value (from
    JSON) must already be of the kind."""
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ParamError(f"expected true or false, got {_show(value)}")
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: int | float = value
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            text = value.strip()
            number = int(text) if _INT.fullmatch(text) else float(text)
        else:
            raise ParamError(f"expected a number, got {_show(value)}")
        if isinstance(number, float) and not math.isfinite(number):
            raise ParamError(f"expected a finite number, got {_show(value)}")
        return number
    if isinstance(value, str):
        return value
    raise ParamError(f"expected text, got {_show(value)}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{shorten(value)}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return json.dumps(value)


def _short_form(value: Any) -> Any:
    """``rows: 3`` is ``rows: {default: 3}``."""
    return value if isinstance(value, dict | ParamSpec) else {"default": value}


_SCHEMA_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "list": "array"}


class ParamSpec(BaseModel):
    """One run parameter: its type, default and bounds (`rows: 3` is short for `{default: 3}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ParamType | None = Field(
        default=None,
        description="`string`, `number`, `boolean` or `list` (of `items`); inferred from "
        "`default` when left out.",
        examples=["number"],
    )
    default: Value = Field(
        description="The value a run gets unless it overrides it; every param has one, so a "
        "scheduled run always has a value.",
        examples=[3, "WT", True, ["a", "b"]],
    )
    description: str = Field(
        default="",
        description="What the param means; Airflow's trigger form shows it.",
        examples=["Sampling chains of the model fit"],
    )
    items: ItemType | None = Field(
        default=None,
        description="Type of a `list` param's items; inferred from the default's first item "
        "(`string` for an empty list).",
        examples=["string"],
    )
    enum: list[Scalar] | None = Field(
        default=None,
        description="The only values allowed (of the param's type, or of its items' type).",
        examples=[["WT", "parent"]],
    )
    minimum: float | None = Field(
        default=None, description="Smallest value of a `number` param.", examples=[1]
    )
    maximum: float | None = Field(
        default=None, description="Largest value of a `number` param.", examples=[64]
    )

    @model_validator(mode="before")
    @classmethod
    def _typed(cls, data: Any) -> Any:
        """Fills in ``type`` and ``items`` and turns the texts of the YAML into typed values,
        so the rest of the model sees real numbers and booleans."""
        if not isinstance(data, dict) or "default" not in data:
            return data
        data = dict(data)
        default = data["default"]
        given = data.get("type") or infer_type(default)
        if not isinstance(given, str) or given not in _SCHEMA_TYPES:
            return data  # pydantic explains the bad type (a list or a map is not hashable)
        kind = cast(ParamType, given)
        data["type"] = kind
        if kind == "list":
            if not isinstance(default, list):
                raise ValueError(
                    f"the default of a list param must be a list, got {_show(default)}"
                )
            if data.get("items") is None:
                data["items"] = infer_item(default[0]) if default else "string"
            item: ItemType = (
                data["items"] if data["items"] in ("string", "number", "boolean") else "string"
            )
        else:
            item = kind
        try:
            data["default"] = _coerce(default, kind, item)
            if isinstance(data.get("enum"), list):
                data["enum"] = [parse_scalar(v, item) for v in data["enum"]]
        except ParamError as exc:
            raise ValueError(
                f"{exc} (the param is a {_type_words(kind, item)}); give a value of that type, "
                "or declare the `type:` you mean"
            ) from None
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.type != "number" and (self.minimum is not None or self.maximum is not None):
            raise ValueError("`minimum` and `maximum` bound a number param only")
        if self.type != "list" and self.items is not None:
            raise ValueError("`items` is for a list param only (type: list)")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(
                f"`minimum` ({self.minimum:g}) is more than `maximum` ({self.maximum:g})"
            )
        if self.enum is not None and not self.enum:
            raise ValueError("`enum` is empty: list the allowed values, or remove it")
        problem = self.problem(self.default)
        if problem:
            raise ValueError(f"the default {problem}; change the default, or the bounds or enum")
        return self

    @property
    def kind(self) -> ParamType:
        """The declared (or inferred) type."""
        assert self.type is not None  # always filled in by ``_typed``
        return self.type

    @property
    def item_kind(self) -> ItemType:
        if self.kind == "list":
            return self.items or "string"
        return self.kind

    def problem(self, value: Value) -> str:
        """Why an already typed ``value`` breaks the enum or the bounds; '' when it does not."""
        values = value if isinstance(value, list) else [value]
        for v in values:
            if self.enum is not None and v not in self.enum:
                return f"{_show(v)} is not one of {', '.join(_show(e) for e in self.enum)}"
            if isinstance(v, int | float) and not isinstance(v, bool):
                if self.minimum is not None and v < self.minimum:
                    return f"{v:g} is less than the minimum of {self.minimum:g}"
                if self.maximum is not None and v > self.maximum:
                    return f"{v:g} is more than the maximum of {self.maximum:g}"
        return ""

    def value_of(self, given: Any) -> Value:
        """A run's value for the param (text from a command line, or JSON), checked and typed;
        ``ParamError`` says what is wrong."""
        try:
            value = _coerce(given, self.kind, self.item_kind)
        except ParamError as exc:
            raise ParamError(
                f"{exc} (the param is a {_type_words(self.kind, self.item_kind)})"
            ) from None
        problem = self.problem(value)
        if problem:
            raise ParamError(problem)
        return value

    def airflow_schema(self) -> dict[str, Any]:
        """The JSON Schema keywords of the Airflow ``Param`` (the trigger form's field)."""
        schema: dict[str, Any] = {"type": _SCHEMA_TYPES[self.kind]}
        if self.kind == "list":
            schema["items"] = {"type": self.item_kind}
            if self.enum is not None:
                schema["items"]["enum"] = list(self.enum)
        elif self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


def _type_words(kind: ParamType, item: ItemType) -> str:
    return f"list of {item}s" if kind == "list" else kind


def _coerce(value: Any, kind: ParamType, item: ItemType) -> Value:
    if kind != "list":
        return parse_scalar(value, kind)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise ParamError(f"'{shorten(text)}' is not a JSON list") from None
        else:  # a command line's `a,b,c`
            value = [part.strip() for part in text.split(",")] if text else []
    if not isinstance(value, list):
        raise ParamError(f"expected a list, got {_show(value)}")
    return [parse_scalar(v, item) for v in value]


# The schema for editors admits the short form (a bare default) beside the long one.
Param = Annotated[ParamSpec, BeforeValidator(_short_form, json_schema_input_type=ParamSpec | Value)]
Params = dict[ParamName, Param]


def env_value(value: Value) -> str:
    """A param's value as its environment variable holds it: text as it is, ``true``/``false``,
    numbers as Python writes them, a list as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def resolve(params: Mapping[str, ParamSpec], given: Mapping[str, Any]) -> dict[str, Value]:
    """The run's value of every param: ``given`` (checked against its type) over the defaults.

    Raises ``ParamError`` naming every bad or unknown param at once.
    """
    problems: list[str] = []
    values: dict[str, Value] = {name: spec.default for name, spec in params.items()}
    for name, raw in given.items():
        spec = params.get(name)
        if spec is None:
            from airflow_platform.spec.errors import did_you_mean

            known = ", ".join(sorted(params)) or "none"
            hint = did_you_mean(name, params)
            problems.append(
                f"unknown param '{name}'; {hint + ' ' if hint else ''}declared params: {known}"
            )
            continue
        try:
            values[name] = spec.value_of(raw)
        except ParamError as exc:
            problems.append(f"param '{name}': {exc}")
    if problems:
        raise ParamError("; ".join(problems))
    return values


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``--param name=value`` options as a mapping (the values still text)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParamError(f"'{shorten(item)}' is not name=value, e.g. --param rows=3")
        out[name.strip()] = value
    return out
