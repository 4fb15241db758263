"""Platform task types: the config's declarations, a task's `operator_type:` and `with:`
checked against them with located errors, the pod they build and the editor schema."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from airflow_platform.config import PlatformConfig, load_config, parse_config
from airflow_platform.pods import build_pod
from airflow_platform.schema import spec_json_schema
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import Home
from airflow_platform.tasktypes.calls import PARAMETERS_FLAG
from airflow_platform.tasktypes.model import TaskTypeParameter, coerce
from airflow_platform.validation import validate_text

pytestmark = pytest.mark.unit

HOME = Home("analytics", "jobs")


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> PlatformConfig:
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    return load_config()


def _pipeline(task: dict[str, Any]) -> str:
    spec = {
        "dag": {"defaults": {"resource_flavor": "cpu-2gb", "execution_time": "10 minutes"}},
        "tasks": {"load": {"extract": task}},
    }
    return yaml.safe_dump(spec, sort_keys=False)


def _problems(text: str, config: PlatformConfig) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_text(text, "jobs/analytics/x.yaml", config, HOME)
    return [str(p) for p in caught.value.problems]


def test_the_default_config_ships_pg_to_csv_and_pg_execute_in_the_platform_image(
    config: PlatformConfig,
) -> None:
    assert set(config.task_types) == {"pg_to_csv", "pg_execute"}
    for task_type in config.task_types.values():
        assert task_type.image == "registry.internal/airflow-platform/airflow:0.1.0"
        assert task_type.command[:2] == ["python", "-m"]
    assert config.task_types["pg_to_csv"].parameters["columns"].required


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("integer", "10", 10),
        ("number", "0.5", 0.5),
        ("boolean", "yes", True),
        ("string", "trips", "trips"),
        ("string_list", ["a", "1"], ["a", "1"]),
    ],
)
def test_parameters_are_read_back_from_the_loaders_text(kind: Any, text: Any, value: Any) -> None:
    assert coerce(kind, text) == value


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("integer", "ten", "'ten' is not a whole number"),
        ("number", "fast", "'fast' is not a number"),
        ("boolean", "maybe", "'maybe' is not a boolean"),
        ("string_list", "a", "expected a list of strings"),
        ("string", ["a"], "expected a string, not a list"),
    ],
)
def test_a_value_of_the_wrong_type_says_what_to_write(kind: Any, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coerce(kind, value)


def test_a_parameter_default_must_fit_its_type_and_not_be_required() -> None:
    with pytest.raises(ValueError, match="default: 'ten' is not a whole number"):
        TaskTypeParameter(type="integer", description="rows", default="ten")
    with pytest.raises(ValueError, match="a required parameter has no default"):
        TaskTypeParameter(type="string", description="t", default="x", required=True)


def test_a_task_type_on_an_unknown_flavor_is_a_config_error(config: PlatformConfig) -> None:
    data = config.model_dump(mode="json", exclude_none=True)
    data["task_types"]["pg_execute"]["flavors"] = ["cpu-2gbb"]
    with pytest.raises(SpecError, match=r"task_types.pg_execute.flavors.0: unknown flavor "
                       r"'cpu-2gbb'; did you mean 'cpu-2gb'\?"):  # fmt: skip
        parse_config(yaml.safe_dump(data).encode(), "platform.yaml")


def test_a_typed_task_validates_and_runs_the_types_command_with_its_parameters_as_json(
    config: PlatformConfig,
) -> None:
    text = _pipeline(
        {
            "operator_type": "pg_to_csv",
            "with": {"table": "trips", "columns": ["trip_id", "fare"]},
            "secrets": [{"name": "trips-db", "key": "url", "env": "DATABASE_URL"}],
        }
    )
    doc = validate_text(text, "jobs/analytics/x.yaml", config, HOME)
    pod = build_pod(doc.tasks[0].job, config)
    container = pod.spec.containers[0]
    assert container.image == config.task_types["pg_to_csv"].image
    command = container.command
    assert command[:4] == ["python", "-m", "airflow_platform.tasktypes.pg_to_csv", PARAMETERS_FLAG]
    assert json.loads(command[4]) == {
        "table": "trips", "columns": ["trip_id", "fare"], "output": "data.csv",
        "dsn_env": "DATABASE_URL",
    }  # fmt: skip
    assert len(command) == 5  # no shell: the parameters are one argument, as data
    secret = next(e for e in container.env if e.name == "DATABASE_URL")
    assert secret.value is None
    assert secret.value_from.secret_key_ref.name == "trips-db"
    assert pod.spec.security_context.run_as_non_root


def test_every_problem_of_typed_tasks_comes_at_once_located(config: PlatformConfig) -> None:
    spec = {
        "dag": {"defaults": {"resource_flavor": "cpu-2gb", "execution_time": "10 minutes"}},
        "tasks": {
            "load": {
                "a": {"operator_type": "pg_to_cvs"},
                "b": {"operator_type": "pg_to_csv", "with": {"columns": "x", "limt": "3"}},
                "c": {"operator_type": "pg_execute", "resource_flavor": "cpu-16gb"},
            }
        },
    }
    problems = _problems(yaml.safe_dump(spec, sort_keys=False), config)
    assert problems == [
        "jobs/analytics/x.yaml:8:22: tasks.load.a.operator_type: unknown task type "
        "'pg_to_cvs'; did you mean 'pg_to_csv'? known: pg_execute, pg_to_csv",
        "jobs/analytics/x.yaml:12:18: tasks.load.b.with.columns: parameter 'columns' of "
        "pg_to_csv: expected a list of strings, e.g. [id, fare]; write `columns:` as a list "
        "of strings: The columns to write, in order (the CSV header).",
        "jobs/analytics/x.yaml:13:9: tasks.load.b.with.limt: unknown parameter 'limt'; "
        "pg_to_csv takes: table, query, columns, output, dsn_env",
        "jobs/analytics/x.yaml:15:22: tasks.load.c.operator_type: task type pg_execute needs "
        "the parameter 'statement'; add `statement:` under `with:`: The SQL statement to run.",
        "jobs/analytics/x.yaml:16:24: tasks.load.c.resource_flavor: task type pg_execute does "
        "not run on flavor 'cpu-16gb'; use one of cpu-2gb, cpu-4gb",
    ]


def test_a_typed_task_brings_no_image_or_script_and_with_needs_a_type(
    config: PlatformConfig,
) -> None:
    spec = {
        "dag": {"defaults": {"resource_flavor": "cpu-2gb", "execution_time": "10 minutes"}},
        "tasks": {
            "load": {
                "a": {"operator_type": "pg_execute", "with": {"statement": "select 1"},
                      "execution_script": "python x.py"},
                "b": {"docker_image": "registry.internal/analytics/norm:2.0",
                      "execution_script": "python x.py", "with": {"statement": "select 1"}},
            }
        },
    }  # fmt: skip
    problems = _problems(yaml.safe_dump(spec, sort_keys=False), config)
    assert [p.split(": ", 2)[1] for p in problems] == ["tasks.load.a.execution_script",
                                                       "tasks.load.b.with"]  # fmt: skip
    assert "remove `execution_script`, or remove `operator_type`" in problems[0]
    assert "but the task has no `operator_type`" in problems[1]


def _schema_errors(task: dict[str, Any], config: PlatformConfig) -> list[str]:
    schema = spec_json_schema("pipeline", config)
    spec = yaml.safe_load(_pipeline(task))
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(spec)] + [
        m for e in validator.iter_errors(spec) for m in (c.message for c in e.context or [])
    ]


def test_the_editor_schema_accepts_a_typed_task_with_its_parameters(
    config: PlatformConfig,
) -> None:
    task = {"operator_type": "pg_to_csv", "with": {"table": "t", "columns": ["a"]}}
    assert _schema_errors(task, config) == []


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ({"operator_type": "pg_to_cvs"}, "'pg_to_cvs' is not one of"),
        ({"operator_type": "pg_to_csv", "with": {"columns": "a"}}, "'a' is not of type 'array'"),
        ({"operator_type": "pg_to_csv", "with": {"columns": ["a"], "ouput": "x"}},
         "Additional properties are not allowed ('ouput' was unexpected)"),
        ({"operator_type": "pg_execute", "with": {}}, "'statement' is a required property"),
    ],
)  # fmt: skip
def test_the_editor_schema_knows_each_types_parameters(
    task: dict[str, Any], expected: str, config: PlatformConfig
) -> None:
    errors = _schema_errors(task, config)
    assert any(expected in e for e in errors), errors
