"""JSON Schema of spec files for editors, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from airflow_platform.spec.models import JobFile, PipelineSpec

SCHEMA_ID = "https://airflow-platform.dev/schema/spec.json"


def spec_json_schema(kind: str = "all") -> dict[str, Any]:
    """The schema of a job file, a pipeline file, or either (``kind``: job, pipeline, all)."""
    model: Any = {"job": JobFile, "pipeline": PipelineSpec}.get(kind, JobFile | PipelineSpec)
    schema: dict[str, Any] = TypeAdapter(model).json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema.setdefault("title", "airflow-platform spec")
    return schema
