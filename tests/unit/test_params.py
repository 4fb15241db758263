"""Typed run params: declaration (short and long form), checking a run's values, the env vars
they become, and the Airflow Params the DAG factory declares from them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_platform.pods import RunContext, param_env
from airflow_platform.spec.loader import parse_spec_text
from airflow_platform.spec.models import JobSpec, PipelineSpec
from airflow_platform.spec.params import (
    ParamError,
    ParamSpec,
    env_value,
    parse_overrides,
    resolve,
)

pytestmark = pytest.mark.unit

PIPELINE = """\
dag:
  name: p
  team: analytics
  defaults: {resource_flavor: cpu-4gb, docker_image: registry.internal/a/b:1, execution_time: 1m}
  params:
%s
tasks:
  g:
    a: {execution_script: "true"}
    b: {execution_script: "true", depends_on: [a]}
"""


def _params(lines: str) -> dict[str, ParamSpec]:
    doc = parse_spec_text(PIPELINE % lines, "p.yaml")
    assert isinstance(doc.spec, PipelineSpec)
    return dict(doc.spec.dag.params)


@pytest.mark.parametrize(
    ("line", "kind", "default"),
    [
        ("rows: 3", "number", 3),
        ("ratio: 0.25", "number", 0.25),
        ("big: 1e3", "number", 1000.0),
        ("dry_run: false", "boolean", False),
        ("parent: WT", "string", "WT"),
        ("strains: [a, b]", "list", ["a", "b"]),
        ("seeds: [1, 2]", "list", [1, 2]),
    ],
)
def test_short_form_infers_the_type_from_the_default(line: str, kind: str, default: Any) -> None:
    (spec,) = _params(f"    {line}").values()
    assert (spec.kind, spec.default) == (kind, default)


def test_long_form_keeps_type_description_enum_and_bounds() -> None:
    params = _params(
        "    chains: {type: number, default: 4, minimum: 1, maximum: 64, description: Chains}\n"
        "    mode: {type: string, default: fast, enum: [fast, slow]}\n"
        '    code: {type: string, default: "007"}'
    )
    assert params["chains"].airflow_schema() == {"type": "number", "minimum": 1, "maximum": 64}
    assert params["chains"].description == "Chains"
    assert params["mode"].airflow_schema() == {"type": "string", "enum": ["fast", "slow"]}
    assert params["code"].default == "007"


def test_a_list_param_is_an_array_of_its_items_for_airflow() -> None:
    params = _params("    seeds: {type: list, default: [1], items: number}")
    assert params["seeds"].airflow_schema() == {"type": "array", "items": {"type": "number"}}


def test_every_task_of_a_pipeline_gets_the_pipeline_params() -> None:
    doc = parse_spec_text(PIPELINE % "    rows: 3", "p.yaml")
    assert [set(job.params) for job in doc.jobs] == [{"rows"}, {"rows"}]


def test_a_task_cannot_declare_params_of_its_own() -> None:
    text = (PIPELINE % "    rows: 3").replace('a: {execution_script: "true"}',
                                                'a: {execution_script: "true", params: {x: 1}}')  # fmt: skip
    with pytest.raises(Exception, match=r"tasks\.g\.a\.params: unknown key 'params'"):
        parse_spec_text(text, "p.yaml")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"rows": "5"}, {"rows": 5, "mode": "fast", "tags": ["x"]}),
        ({"rows": 2.5, "tags": "a,b"}, {"rows": 2.5, "mode": "fast", "tags": ["a", "b"]}),
        ({"mode": "slow", "tags": '["c"]'}, {"rows": 3, "mode": "slow", "tags": ["c"]}),
        ({}, {"rows": 3, "mode": "fast", "tags": ["x"]}),
    ],
)
def test_overrides_are_typed_over_the_defaults(
    given: dict[str, Any], expected: dict[str, Any]
) -> None:
    params = _params(
        "    rows: {default: 3, minimum: 1}\n"
        "    mode: {default: fast, enum: [fast, slow]}\n"
        "    tags: [x]"
    )
    assert resolve(params, given) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"rows": "many"}, "param 'rows': expected a number, got 'many' (the param is a number)"),
        ({"rows": True}, "param 'rows': expected a number, got true"),
        ({"rows": "0"}, "param 'rows': 0 is less than the minimum of 1"),
        ({"mode": "medium"}, "param 'mode': 'medium' is not one of 'fast', 'slow'"),
        ({"mode": 3}, "param 'mode': expected text, got 3"),
        ({"flag": "yes"}, "param 'flag': expected true or false, got 'yes'"),
        ({"rwos": "1"}, "unknown param 'rwos'; did you mean 'rows'? declared params: flag, mode"),
    ],
)
def test_a_value_not_of_the_declared_type_is_refused(given: dict[str, Any], message: str) -> None:
    params = _params(
        "    rows: {default: 3, minimum: 1}\n"
        "    mode: {default: fast, enum: [fast, slow]}\n"
        "    flag: false"
    )
    with pytest.raises(ParamError) as caught:
        resolve(params, given)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("WT", "WT"),
        (3, "3"),
        (0.05, "0.05"),
        (True, "true"),
        (False, "false"),
        (["a", 1], '["a", 1]'),
    ],
)
def test_env_values_are_plain_text(value: Any, text: str) -> None:
    assert env_value(value) == text


def test_params_reach_the_job_in_upper_case_with_the_runs_values() -> None:
    job = JobSpec.model_validate(
        {
            "name": "j", "team": "nlp", "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/a/b:1", "execution_time": "1m",
            "execution_script": "true",
            "params": {"lr": 0.1, "min_improvement": {"type": "number", "default": 0.05}},
        }
    )  # fmt: skip
    assert param_env(job) == {"LR": "0.1", "MIN_IMPROVEMENT": "0.05"}
    run = RunContext(params={"lr": "0.5", "other_dags_param": "x"})
    assert param_env(job, run) == {"LR": "0.5", "MIN_IMPROVEMENT": "0.05"}
    with pytest.raises(ParamError, match="param 'lr': expected a number"):
        param_env(job, RunContext(params={"lr": "fast"}))


def test_a_param_needs_a_default() -> None:
    with pytest.raises(ValidationError, match="default"):
        ParamSpec.model_validate({"type": "number"})


@pytest.mark.parametrize(
    ("items", "expected"),
    [(["rows=3", "name=a=b", "empty="], {"rows": "3", "name": "a=b", "empty": ""})],
)
def test_param_options_are_name_equals_value(items: list[str], expected: dict[str, str]) -> None:
    assert parse_overrides(items) == expected


def test_a_param_option_without_equals_is_refused() -> None:
    with pytest.raises(
        ParamError, match=re.escape("'rows' is not name=value, e.g. --param rows=3")
    ):
        parse_overrides(["rows"])


# Found by test_fuzz_loader.py: a list as the type was a TypeError (unhashable), a traceback.
@pytest.mark.parametrize("kind", [["number"], {"of": "number"}])
def test_a_type_that_is_not_a_name_is_a_validation_error(kind: Any) -> None:
    with pytest.raises(ValidationError, match="type"):
        ParamSpec.model_validate({"type": kind, "default": 1})
