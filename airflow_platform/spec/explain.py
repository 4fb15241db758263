"""Pydantic's validation errors turned into located problems that say how to fix them."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import SkipJsonSchema

from airflow_platform.spec.errors import Problem, closest, did_you_mean
from airflow_platform.spec.yamlsafe import Path, SourceMap

# Examples that depend on where the spec lives and on the platform config — the team's own
# smallest flavor, an image under the team's path of the allowed registry, the known teams —
# set by airflow_platform.validation around each load (the loader knows neither). Without
# them a hint would quote a model's example, which is another team's (`vision`'s image for a
# file under jobs/nlp/). A field left out here has no example rather than a misleading one.
# Keyed by team ("" for what does not depend on it: the known teams).
HINT_EXAMPLES: ContextVar[Mapping[str, Mapping[str, str]] | None] = ContextVar(
    "hint_examples", default=None
)
_CONTEXTUAL = frozenset({"team", "docker_image", "resource_flavor"})


def _hint_example(name: str, team: object = "") -> str:
    examples = HINT_EXAMPLES.get() or {}
    return examples.get(team if isinstance(team, str) else "", {}).get(name, "")


def validation_problems(
    exc: ValidationError, model: type[BaseModel], source: SourceMap, prefix: Path = ()
) -> list[Problem]:
    """Pydantic's errors as located problems that say what to do."""
    problems: list[Problem] = []
    errors = exc.errors(include_url=False)
    # A misspelt key also leaves its field missing; the did-you-mean on the unknown key says
    # everything, so the "missing" problem for the same field is left out.
    misspelt: set[Path] = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = tuple(err["loc"])
            close = closest(str(loc[-1]), _fields_at(model, loc[:-1]))
            if close:
                misspelt.add((*loc[:-1], close))
    for err in errors:
        loc = tuple(err["loc"])
        key_error = "[key]" in loc
        if key_error:
            # pydantic marks a bad dict key as (..., key, "[key]"): point at the key itself.
            loc = tuple(part for part in loc if part != "[key]")
        path = (*prefix, *loc)
        kind = err["type"]
        value = err.get("input")
        if kind == "missing" and loc in misspelt:
            continue
        if key_error:
            message, hint = _explain(kind, err["msg"], value, model, loc, err.get("ctx"))
            problems.append(source.problem(path, message, hint, key=True))
            continue
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1])
            hint = did_you_mean(key, allowed) or (
                f"allowed keys: {', '.join(allowed)}" if allowed else ""
            )
            problems.append(source.problem(path, f"unknown key '{key}'", hint, key=True))
            continue
        if kind == "missing":
            name = str(loc[-1])
            # The input of a missing field is its mapping, with the team the loader claimed.
            team = value.get("team") if isinstance(value, dict) else None
            example = _example(model, loc, team)
            hint = f"add `{name}: {example}`" if example else f"add `{name}:`"
            if name == "team":  # only a spec outside any team's folder must name its team
                teams = _hint_example("teams")
                hint = "put the spec in its team's folder, jobs/<team>/, or add `team: <team>`"
                hint += f" (teams: {teams})" if teams else ""
            problems.append(
                source.problem(path[:-1], f"required field '{name}' is missing", hint, key=True)
            )
            continue
        problems.append(
            source.problem(path, *_explain(kind, err["msg"], value, model, loc, err.get("ctx")))
        )
    return problems


def _explain(
    kind: str,
    msg: str,
    value: Any,
    model: type[BaseModel],
    loc: Path,
    ctx: dict[str, Any] | None = None,
) -> tuple[str, str]:
    example = _example(model, loc)
    hint = f"e.g. {example}" if example else ""
    ctx = ctx or {}
    if kind == "value_error":
        return msg.removeprefix("Value error, "), ""
    if kind in ("string_type", "str_type"):
        if isinstance(value, dict | list):
            hint = hint or "write the value as text, in quotes if it contains ':' or '#'"
        elif value is None:
            hint = hint or 'write a value, or "" for empty text'

        return f"expected text, got {describe_value(value)}", hint
    if kind == "int_parsing" or kind == "int_type" or kind == "int_from_float":
        return f"expected a whole number, got {_show(value)}", hint
    if kind in ("greater_than_equal", "greater_than") and "ge" in ctx:
        return f"{_plain(value)} is less than the minimum of {ctx['ge']}", hint
    if kind in ("less_than_equal", "less_than") and "le" in ctx:
        return f"{_plain(value)} is more than the maximum of {ctx['le']}", hint
    if kind in ("bool_parsing", "bool_type"):
        return f"expected true or false, got {_show(value)}", "write `true` or `false`"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping (key: value lines), got {describe_value(value)}", hint
    if kind == "list_type":
        return f"expected a list, got {describe_value(value)}", hint
    if kind == "too_short":
        return "must not be empty", hint
    if kind == "literal_error" and isinstance(value, str):
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = did_you_mean(value, choices)
        return msg[:1].lower() + msg[1:], close or hint
    if kind == "string_pattern_mismatch":
        return f"{_show(value)} is not allowed here", hint
    return msg[:1].lower() + msg[1:], hint


def describe_value(value: Any) -> str:
    """A value's kind in words, for messages: 'a list', \"the text 'x'\"."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the text {_short_repr(value)}"
    return f"the value {_short_repr(value)}"


def _show(value: Any) -> str:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return _short_repr(value)
    return describe_value(value)


_MAX_SHOWN = 60


def _short_repr(value: Any) -> str:
    """``repr(value)`` cut to a readable length; never fails (huge ints cannot be printed)."""
    if isinstance(value, int) and abs(value) >= 10**_MAX_SHOWN:
        return "a number too long to show"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 4] + "...'"


def _plain(value: Any) -> str:
    text = _short_repr(value)
    return text[1:-1] if isinstance(value, str) and len(text) >= 2 else text


def _unwrap(tp: Any) -> Any:
    """Strips ``Annotated`` and ``X | None`` down to the type that holds fields or items."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _type_at(model: type[BaseModel], loc: Path) -> Any:
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            info = tp.model_fields.get(str(part)) or next(
                (f for f in tp.model_fields.values() if f.alias == part), None
            )
            if info is None:
                return None
            tp = info.annotation
            continue
        origin = typing.get_origin(tp)
        if origin in (dict, list):
            tp = typing.get_args(tp)[-1]
            continue
        return None
    return _unwrap(tp)


_LEFT_OUT = SkipJsonSchema()  # type: ignore[type-arg]  # the marker itself, in a field's metadata


def _fields_at(model: type[BaseModel], loc: Path) -> list[str]:
    tp = _type_at(model, loc)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        # A field the JSON Schema leaves out is the platform's, never written in a spec.
        return [
            info.alias or name
            for name, info in tp.model_fields.items()
            if _LEFT_OUT not in info.metadata
        ]
    return []


def _example(model: type[BaseModel], loc: Path, team: object = None) -> str:
    if not loc:
        return ""
    if str(loc[-1]) in _CONTEXTUAL:
        return _hint_example(str(loc[-1]), team)
    parent = _type_at(model, loc[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel):
        info = parent.model_fields.get(str(loc[-1]))
        if info is not None and info.examples:
            example = info.examples[0]
            if isinstance(example, str):
                return example
            # Shown as YAML flow style, the way the author would write it in the spec.
            text = yaml.safe_dump(example, default_flow_style=True, width=10**6, sort_keys=False)
            return text.strip().removesuffix("...").strip()
    return ""
