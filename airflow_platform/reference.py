"""Markdown reference tables of the spec and platform config, generated from the models."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from airflow_platform.config import Flavor, Gpu, GpuNodes, PlatformConfig, Policy, Team
from airflow_platform.spec.conditions import Condition, ResultRef
from airflow_platform.spec.models import (
    DagInfo,
    JobSpec,
    PipelineSpec,
    SecretRef,
    TaskDefaults,
    TaskSpec,
)
from airflow_platform.spec.params import ParamSpec

SPEC_MODELS: list[tuple[str, type[BaseModel]]] = [
    ("job", JobSpec),
    ("job.secrets[]", SecretRef),
    ("dag", DagInfo),
    ("dag.defaults", TaskDefaults),
    ("dag.params.<name>", ParamSpec),
    ("tasks.<group>.<task>", TaskSpec),
    ("tasks.<group>.<task>.when", Condition),
    ("tasks.<group>.<task>.when.value_of", ResultRef),
    ("pipeline file", PipelineSpec),
]
CONFIG_MODELS: list[tuple[str, type[BaseModel]]] = [
    ("platform config", PlatformConfig),
    ("teams.<name>", Team),
    ("flavors.<name>", Flavor),
    ("flavors.<name>.gpu", Gpu),
    ("policy", Policy),
    ("gpu_nodes", GpuNodes),
]


def _schema_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(_schema_type(option) for option in schema["anyOf"]))
    kind = schema.get("type", "any")
    if isinstance(kind, list):  # a YAML scalar written as text, a number or a boolean
        return " or ".join(map(str, kind))
    if kind == "array":
        return f"list of {_schema_type(schema.get('items', {}))}"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"map of {_schema_type(values)}" if isinstance(values, dict) else "mapping"
    return "duration" if "duration" in str(schema.get("description", "")).lower() else str(kind)


# Required by the models but filled in by the loader before validation (spec.loader): a
# scientist may leave them out. The JSON Schema drops them from `required` for the same reason.
_FROM_THE_FILE = {
    (JobSpec, "name"): "the file name",
    (JobSpec, "team"): "the team's folder",
    (DagInfo, "name"): "the file name",
    (DagInfo, "team"): "the team's folder",
}


def _default(field: FieldInfo, model: type[BaseModel] | None = None, name: str = "") -> str:
    from_file = _FROM_THE_FILE.get((model, name)) if model is not None else None
    if from_file:
        return f"({from_file})"
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        return "(empty)"
    value: Any = field.default
    if value is None:
        return "—"
    if hasattr(value, "total_seconds"):
        from airflow_platform.spec.durations import format_duration

        return f"`{format_duration(value)}`"
    return f"`{json.dumps(value)}`"


def _table(title: str, model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    # A recursive model (a condition holds conditions) is a reference to its own definition.
    properties = schema.get("properties") or schema["$defs"][model.__name__]["properties"]
    summary = (model.__doc__ or "").strip().splitlines()[0]
    rows = [
        f"### `{title}`\n",
        f"{summary}\n",
        "| key | type | default | meaning | example |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in model.model_fields.items():
        example = f"`{json.dumps(field.examples[0])}`" if field.examples else ""
        key = field.alias or name  # as a spec writes it (`not`)
        if key not in properties:  # the platform's own (SkipJsonSchema), never written in a spec
            continue
        cells = [
            f"`{key}`",
            _schema_type(properties[key]).replace("null", "none"),
            _default(field, model, name),
            field.description or "",
            example,
        ]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def reference_markdown() -> str:
    """The whole reference page: spec files, then the platform config."""
    parts = [
        "# Spec and platform config reference\n",
        "Generated from the pydantic models by `make docs` "
        "(`python -m airflow_platform.reference > docs/reference.md`); do not edit by hand.\n",
        "## Job and pipeline specs\n",
        *(_table(title, model) for title, model in SPEC_MODELS),
        "## Platform config (owned by the platform team)\n",
        *(_table(title, model) for title, model in CONFIG_MODELS),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(reference_markdown(), end="")
