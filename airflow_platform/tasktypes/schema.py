"""The editor JSON Schema's knowledge of the platform's task types: ``operator_type`` is one
of their names, and ``with:`` holds exactly the parameters of the type named (an ``if``/``then``
per type), with their types, descriptions and defaults."""

from __future__ import annotations

from typing import Any

from airflow_platform.tasktypes.model import ParameterType, TaskType

_TYPES: dict[ParameterType, dict[str, Any]] = {
    # The loader reads scalars as text, so `limit: "10"` is as good as `limit: 10`.
    "string": {"type": ["string", "number", "boolean"]},
    "integer": {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[-+]?\d+\s*$"}]},
    "number": {"type": ["number", "string"]},
    "boolean": {"type": ["boolean", "string"]},
    "string_list": {"type": "array", "items": {"type": ["string", "number"]}},
}


def refine_task_schema(definition: dict[str, Any], task_types: dict[str, TaskType]) -> None:
    """Adds the task types to the JSON Schema ``definition`` of a pipeline task."""
    properties = definition.get("properties", {})
    if "operator_type" not in properties or not task_types:
        return
    names = sorted(task_types)
    properties["operator_type"] = {
        **{k: v for k, v in properties["operator_type"].items() if k != "anyOf"},
        "anyOf": [{"enum": names}, {"type": "null"}],
        "enumDescriptions": [task_types[n].description for n in names],
    }
    definition["allOf"] = [
        *definition.get("allOf", []),
        *({
            "if": {"properties": {"operator_type": {"const": name}}, "required": ["operator_type"]},
            "then": {"properties": {"with": _with_schema(task_types[name])}},
        } for name in names),
    ]  # fmt: skip


def _with_schema(task_type: TaskType) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name, parameter in task_type.parameters.items():
        entry: dict[str, Any] = {**_TYPES[parameter.type], "description": parameter.description}
        if parameter.default is not None:
            entry["default"] = parameter.default
        properties[name] = entry
    required = [n for n, p in task_type.parameters.items() if p.required]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema
