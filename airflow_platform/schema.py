"""JSON Schema of spec files for editors, generated from the pydantic models and the platform
config in use.

The models give the structure and the shape of every checked string (names, durations, cron
expressions, a non-empty script). The config adds what only it knows: the flavor names (an
enum, each with its description), the teams, and the image prefixes the policy allows. What
needs the pipeline's graph or the team's folder (a cycle, a dependency on a missing task, a
flavor the folder's team may not use) is left to `airflow-platform validate`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from airflow_platform.spec.models import JobFile, PipelineSpec

if TYPE_CHECKING:
    from airflow_platform.config import PlatformConfig

SCHEMA_ID = "https://airflow-platform.dev/schema/spec.json"
_REGEX_SYNTAX = set("^$\\.*+?()[]{}|/")
"""The characters a pattern must escape (ECMA 262 with the u flag, as editors compile
patterns, refuses escapes of any other character, such as Python's ``\\-``)."""


# The words a spec may write for a boolean: the loader reads every scalar as its text and the
# models take these (any case) as pydantic does; an editor reads YAML 1.2, where `yes` and
# `off` are strings, so the schema allows them as strings.
_BOOLEAN_WORDS = ("true", "false", "yes", "no", "on", "off", "y", "n", "t", "f", "1", "0")


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


class _SpecSchema(GenerateJsonSchema):
    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        words = "|".join(_any_case(w) for w in _BOOLEAN_WORDS)
        return {"anyOf": [{"type": "boolean"}, {"type": "string", "pattern": f"^(?:{words})$"}]}


def spec_json_schema(kind: str = "all", config: PlatformConfig | None = None) -> dict[str, Any]:
    """The schema of a job file, a pipeline file, or either (``kind``: job, pipeline, all), for
    ``config`` (default: the config in use, ``load_config()``)."""
    from airflow_platform.config import load_config

    model: Any = {"job": JobFile, "pipeline": PipelineSpec}.get(kind, JobFile | PipelineSpec)
    schema: dict[str, Any] = TypeAdapter(model).json_schema(
        mode="validation", schema_generator=_SpecSchema
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema.setdefault("title", "airflow-platform spec")
    _add_platform(schema, config or load_config())
    return schema


def _add_platform(schema: dict[str, Any], config: PlatformConfig) -> None:
    flavors = _flavor_enum(config)
    teams = {"enum": list(config.teams)}
    images = _image_shape(config)
    refine: dict[str, dict[str, Any]] = {
        "resource_flavor": flavors,
        "executor_flavor": flavors,
        "team": teams,
        "docker_image": images,
    }
    from airflow_platform.tasktypes.schema import refine_task_schema

    for definition in schema.get("$defs", {}).values():
        refine_task_schema(definition, config.task_types)
        for name, prop in definition.get("properties", {}).items():
            if name in refine:
                # the string branch: the property itself, or one of its anyOf (with null)
                for branch in prop.get("anyOf", [prop]):
                    if branch.get("type") == "string":
                        branch.update(refine[name])


def _flavor_enum(config: PlatformConfig) -> dict[str, Any]:
    """The catalog's flavor names; ``enumDescriptions`` (read by VS Code's and the YAML
    language server's completion, ignored by validators) says what each one is."""
    from airflow_platform.spec.durations import format_duration

    names = config.flavor_names()
    descriptions = []
    for name in names:
        flavor = config.flavors[name]
        size = f"{flavor.cpu} CPU, {flavor.memory}"
        if flavor.gpu is not None:
            size += f", {flavor.gpu.count}× {flavor.gpu.product or flavor.gpu.resource}"
        limit = min(
            flavor.max_execution_time or config.policy.max_execution_time,
            config.policy.max_execution_time,
        )
        size += f", at most {format_duration(limit)}"
        teams = "every team" if flavor.teams is None else "teams " + ", ".join(flavor.teams)
        about = f" — {flavor.description}" if flavor.description else ""
        descriptions.append(f"{size}; {teams}{about}")
    return {"enum": names, "enumDescriptions": descriptions}


def _image_shape(config: PlatformConfig) -> dict[str, Any]:
    """An image under an allowed prefix (``policy.image_prefixes``), with no whitespace, and
    pinned (a tag other than latest, or a digest) when the policy requires it."""
    from airflow_platform.policy import image_prefixes

    prefixes = "|".join(_escape(p) for p in image_prefixes(config.policy.allowed_images))
    shape: dict[str, Any] = {"pattern": f"^(?:{prefixes})\\S*$"}
    if config.policy.require_pinned_images:
        shape["allOf"] = [{"pattern": "(?:@.+|:(?!latest$)[^/:@]+)$"}]
    return shape


def _escape(text: str) -> str:
    return "".join(f"\\{c}" if c in _REGEX_SYNTAX else c for c in text)
