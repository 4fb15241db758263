"""The editor schema (`airflow-platform schema`), held to a standard JSON Schema validator
(``jsonschema``, Draft 2020-12) over the spec corpus, the way an editor applies it.

Every good spec (tests/data/good_specs/, every spec under jobs/) is accepted. Every bad spec
is rejected, except the ones whose mistake needs what a schema cannot know, listed below with
the reason: those are `validate`'s alone. A case with its own platform config
(``NAME.platform``) is checked against the schema of that config (`schema --config`).

Editors read YAML 1.2 (the YAML language server does), where ``yes`` and ``off`` are strings
and a mapping key is text; ``_editor_yaml`` reads the files the same way.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.spec.durations import SCHEMA_PATTERN, parse_duration
from airflow_platform.spec.loader import spec_files

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
BAD = REPO / "tests/data/bad_specs"
GOOD = sorted((REPO / "tests/data/good_specs").iterdir()) + spec_files(REPO / "jobs")

# What YAML itself refuses (the editor shows those as syntax errors, before any schema).
YAML_ERRORS = {
    "key_not_scalar", "non_utf8_bytes", "nul_bytes", "tag_custom", "tag_python_name",
    "tag_python_object_apply", "utf16_file", "yaml_bad_indentation", "yaml_multiple_documents",
    "yaml_syntax_error", "yaml_tab_indentation", "yaml_unterminated_quote",
}  # fmt: skip
# Mistakes a JSON Schema cannot see, by what they need.
LEFT_TO_VALIDATE = {
    # the team's folder (the team a file belongs to, and what that team may use)
    "job_missing_team": "team folder",
    "job_flavor_not_allowed_for_team": "team folder",
    "job_spark_team_not_allowed": "team folder",
    "job_spark_over_team_bounds": "team folder",
    "job_kerberos_team_without_principal": "team folder",
    "pipeline_asset_schedule_cross_team_not_allowed": "team folder (and the config's "
    "consume_assets_from)",
    "pipeline_sensor_outside_team_area": "team folder (and the config's sensor_areas)",
    # the pipeline's graph, or values compared across fields or tasks
    "pipeline_cycle": "graph",
    "pipeline_self_dependency": "graph",
    "pipeline_unknown_depends_on": "graph",
    "pipeline_duplicate_task_names": "graph",
    "pipeline_task_missing_script": "graph (the script may come from dag.defaults)",
    "job_secret_env_duplicate": "across fields",
    "job_params_env_conflict": "across fields",
    "params_env_conflict": "across fields",
    "pipeline_sweep_key_clashes": "across fields (a sweep key against env and params)",
    "pipeline_sweep_over_the_cap": "across fields (the product of the lists' lengths)",
    "pipeline_gate_conflicts": "across fields and task names (when/trigger_rule, a gate name taken)",
    # the notebook file beside the spec (that it is one, and its `parameters` cell)
    "job_notebook_missing": "notebook file",
    "job_notebook_not_a_notebook": "notebook file",
    "job_notebook_parameter_not_in_cell": "notebook file",
    "job_notebook_without_parameters_cell": "notebook file",
    "pipeline_notebook_task_without_parameters_cell": "notebook file",
    "job_parameters_without_notebook": "across fields (`parameters` only with a notebook)",
    # durations compared with the caps and the parser's bound; the cron ranges
    "job_execution_time_over_flavor_cap": "duration value",
    "job_execution_time_over_global_cap": "duration value",
    "job_execution_time_zero": "duration value",
    "job_duration_absurdly_long": "duration value",
    "job_schedule_out_of_range": "cron field ranges",
    # secrets found in values by the inline-secret scanner
    "job_env_secret_looking_key": "secret scanner",
    "job_env_secret_values": "secret scanner",
    "job_script_holds_a_secret": "secret scanner",
    "params_secret_default": "secret scanner",
    # YAML the editor's parser accepts (the last of a duplicate key wins) or expands
    "job_duplicate_key": "YAML reading",
    "yaml_alias_bomb": "YAML reading (the loader's guard against expansion)",
}
CATCHABLE = sorted(
    p for p in BAD.glob("*.yaml") if p.stem not in YAML_ERRORS and p.stem not in LEFT_TO_VALIDATE
)


class _EditorLoader(yaml.SafeLoader):
    """YAML 1.2's booleans (true and false only), as the YAML language server reads them."""


_EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_EditorLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _keys_as_text(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _keys_as_text(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_keys_as_text(item) for item in node]
    return node


def _editor_yaml(path: Path) -> Any:
    return _keys_as_text(yaml.load(path.read_text(), _EditorLoader))  # a SafeLoader


@cache
def _validator(config: Path | None = None) -> jsonschema.Draft202012Validator:
    args = ["schema", *(["--config", str(config)] if config else [])]
    result = CliRunner().invoke(app, args, env={"AIRFLOW_PLATFORM_CONFIG": ""})
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _for(spec: Path) -> jsonschema.Draft202012Validator:
    config = spec.with_suffix(".platform")
    return _validator(config if config.is_file() else None)


@pytest.mark.parametrize("spec", GOOD, ids=lambda p: str(p.relative_to(REPO)))
def test_the_schema_accepts_every_good_spec(spec: Path) -> None:
    errors = [e.message for e in _validator().iter_errors(_editor_yaml(spec))]
    assert errors == []


@pytest.mark.parametrize("spec", CATCHABLE, ids=lambda p: p.stem)
def test_the_schema_rejects_every_bad_spec_that_needs_no_graph_or_team_folder(
    spec: Path,
) -> None:
    assert next(_for(spec).iter_errors(_editor_yaml(spec)), None) is not None


def test_the_corpus_lists_only_existing_cases_and_the_schema_catches_most() -> None:
    names = {p.stem for p in BAD.glob("*.yaml")}
    assert (set(LEFT_TO_VALIDATE) | YAML_ERRORS) <= names
    # 27 unseen bad specs, of which the model-only schema caught 9: this one catches the
    # structure and every shape, flavor, team and image besides.
    assert len(CATCHABLE) >= 70


@pytest.mark.parametrize("stem", sorted(YAML_ERRORS))
def test_the_yaml_errors_are_refused_before_any_schema(stem: str) -> None:
    with pytest.raises((yaml.YAMLError, UnicodeDecodeError)):
        _editor_yaml(BAD / f"{stem}.yaml")


def _job(**fields: Any) -> dict[str, Any]:
    job = {
        "resource_flavor": "cpu-2gb",
        "docker_image": "registry.internal/vision/train:1.0",
        "execution_time": "10m",
        "execution_script": "python train.py",
    }
    return {"job": {**job, **fields}}


def test_flavors_are_the_catalogs_names_each_with_what_it_is() -> None:
    prop = _validator().schema["$defs"]["JobSpec"]["properties"]["resource_flavor"]
    assert "cpu-2gb" in prop["enum"]
    described = dict(zip(prop["enum"], prop["enumDescriptions"], strict=True))
    assert described["gpu-1x-24gb"].startswith("8 CPU, 48Gi, 1× NVIDIA-A10G")
    assert not _validator().is_valid(_job(resource_flavor="gpu-2x"))


def test_allowed_images_follow_the_config_in_use() -> None:
    # that config also allows the repository ghcr.io/acme/train (not ghcr.io/acme/training)
    boundary = BAD / "job_image_prefix_boundary.platform"
    assert _validator(boundary).is_valid(_job(docker_image="ghcr.io/acme/train:1.0"))
    assert not _validator().is_valid(_job(docker_image="ghcr.io/acme/train:1.0"))
    assert not _validator(boundary).is_valid(_job(docker_image="ghcr.io/acme/training:1.0"))
    assert not _validator().is_valid(_job(docker_image="docker.io/library/python:3.11"))
    assert not _validator().is_valid(_job(docker_image="registry.internal/vision/train:latest"))
    assert _validator().is_valid(_job(docker_image="registry.internal/vision/train@sha256:ab"))


@pytest.mark.parametrize(
    "text",
    ["90 minutes", "1h30m", "45s", "PT2H", "pt1h30m", "P1D", "1.5h", "2 hours, 15 minutes",
     "1h and 30m", "90 mins ", "90 minutes,", "P", "PT", "P1DT", "P1H", "90", "", "1hand",
     "1 and", "10 parsecs", "1h 30", "1h30x", "1 hour and30m", "1h,30m", "1hx", "P1DT2H",
     "PT1M5S", "P1DT5S", "1 h,and 2m", "1hours", "1 HOURS AND 2 MIN"],
)  # fmt: skip
def test_the_duration_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert bool(re.search(SCHEMA_PATTERN, text)) == parsed
