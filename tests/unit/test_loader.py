"""The spec loader: jobs, pipelines, defaults, order and the graph checks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airflow_platform.spec import (
    JobSpec,
    PipelineSpec,
    SpecError,
    load_spec,
    parse_spec_data,
    parse_spec_text,
    read_spec,
)
from airflow_platform.spec.loader import default_name, task_job_name

pytestmark = pytest.mark.unit

JOB = """\
job:
  team: vision
  resource_flavor: cpu-2gb
  docker_image: registry.internal/vision/train:1.4.2
  execution_time: 90 minutes
  execution_script: python train.py
"""

PIPELINE = """\
dag:
  name: strain-normalization
  team: analytics
  schedule: "0 6 * * *"
  critical: true
  retries: 2
  defaults:
    resource_flavor: cpu-4gb
    docker_image: registry.internal/analytics/norm:2.0
    execution_time: 30 minutes
    env: {SHARED: one, OVERRIDDEN: from-defaults}
    secrets: [{name: s3-creds, key: access_key, env: AWS_ACCESS_KEY_ID}]
tasks:
  model:
    invalidate_prior_data: {execution_script: python -m norm.invalidate, depends_on: [fit_model]}
    fit_model:
      resource_flavor: cpu-16gb
      execution_time: 2 hours
      execution_script: [python, -m, norm.fit]
      retries: 5
      env: {OVERRIDDEN: from-task}
      depends_on: [compile_data]
  ingest:
    compile_data: {execution_script: python -m norm.compile}
"""


def _messages(text: str, file: str = "f.yaml") -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, file)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("jobs/vision/train-classifier.yaml", "train-classifier"),
        ("train_classifier.yaml", "train-classifier"),
        ("Train Classifier.yml", "train-classifier"),
        ("no.yaml", "no"),
        ("___.yaml", "job"),
        ("x" * 80 + ".yaml", "x" * 63),
    ],
)
def test_job_name_defaults_to_the_file_name_as_a_dns_label(file: str, name: str) -> None:
    assert default_name(file) == name
    doc = parse_spec_text(JOB, file)
    assert isinstance(doc.spec, JobSpec)
    assert doc.spec.name == name


def test_explicit_job_name_wins_over_the_file_name() -> None:
    doc = parse_spec_text(JOB.replace("job:\n", "job:\n  name: other\n"), "train.yaml")
    assert doc.spec.name == "other"


def test_job_fields_are_typed_and_defaulted() -> None:
    job = parse_spec_text(JOB, "train.yaml").spec
    assert isinstance(job, JobSpec)
    assert job.execution_time == timedelta(minutes=90)
    assert job.execution_script == "python train.py"
    assert (job.schedule, job.retries, job.critical, job.env, job.secrets) == (
        None, 0, False, {}, []
    )  # fmt: skip


def test_exec_form_items_become_strings() -> None:
    text = JOB.replace("python train.py", "[python, train.py, --epochs, 10, 1.5]")
    assert parse_spec_text(text, "t.yaml").spec.execution_script == [
        "python", "train.py", "--epochs", "10", "1.5"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("yaml_value", "value"), [("on", True), ("yes", True), ("off", False), ("no", False)]
)
def test_yaml11_booleans_still_work_where_a_boolean_is_wanted(yaml_value: str, value: bool) -> None:
    job = parse_spec_text(JOB + f"  critical: {yaml_value}\n", "t.yaml").spec
    assert isinstance(job, JobSpec)
    assert job.critical is value


def test_yaml11_words_stay_strings_in_names_and_env() -> None:
    text = JOB.replace("job:\n", "job:\n  name: 'no'\n") + "  env: {A: on, B: 1e3, C: no}\n"
    job = parse_spec_text(text, "t.yaml").spec
    assert isinstance(job, JobSpec)
    assert job.name == "no"
    assert job.env == {"A": "on", "B": "1e3", "C": "no"}


def test_pipeline_tasks_inherit_defaults_and_override_them() -> None:
    doc = parse_spec_text(PIPELINE, "p.yaml")
    assert isinstance(doc.spec, PipelineSpec)
    by_id = {t.task_id: t for t in doc.tasks}
    fit, compile_data = by_id["fit_model"].job, by_id["compile_data"].job
    assert fit.name == "fit-model"
    assert (fit.team, fit.critical, fit.schedule) == ("analytics", True, None)
    assert (fit.resource_flavor, fit.execution_time) == ("cpu-16gb", timedelta(hours=2))
    assert fit.retries == 5
    assert compile_data.retries == 2
    assert (compile_data.resource_flavor, compile_data.execution_time) == (
        "cpu-4gb", timedelta(minutes=30)
    )  # fmt: skip
    assert fit.docker_image == compile_data.docker_image == "registry.internal/analytics/norm:2.0"
    assert fit.env == {"SHARED": "one", "OVERRIDDEN": "from-task"}
    assert compile_data.env == {"SHARED": "one", "OVERRIDDEN": "from-defaults"}
    assert [s.env for s in fit.secrets] == ["AWS_ACCESS_KEY_ID"]
    assert fit.execution_script == ["python", "-m", "norm.fit"]


def test_pipeline_tasks_keep_file_order_and_groups() -> None:
    doc = parse_spec_text(PIPELINE, "p.yaml")
    assert [t.qualified_id for t in doc.tasks] == [
        "model.invalidate_prior_data", "model.fit_model", "ingest.compile_data"
    ]  # fmt: skip
    assert [t.depends_on for t in doc.tasks] == [("fit_model",), ("compile_data",), ()]


def test_ordered_tasks_put_dependencies_first() -> None:
    doc = parse_spec_text(PIPELINE, "p.yaml")
    assert [t.task_id for t in doc.ordered_tasks()] == [
        "compile_data", "fit_model", "invalidate_prior_data"
    ]  # fmt: skip


def test_ordered_tasks_are_stable_for_independent_tasks() -> None:
    text = PIPELINE.replace("depends_on: [compile_data]", "depends_on: []").replace(
        "depends_on: [fit_model]", "depends_on: []"
    )
    doc = parse_spec_text(text, "p.yaml")
    assert [t.task_id for t in doc.ordered_tasks()] == [t.task_id for t in doc.tasks]


@pytest.mark.parametrize(
    ("task_id", "name"),
    [("fit_model", "fit-model"), ("Fit_Model", "fit-model"), ("__x__", "x"), ("_", "task")],
)
def test_task_job_names_are_dns_labels(task_id: str, name: str) -> None:
    assert task_job_name(task_id) == name


def test_dag_name_defaults_to_the_file_name() -> None:
    doc = parse_spec_text(PIPELINE.replace("  name: strain-normalization\n", ""), "my_dag.yaml")
    assert isinstance(doc.spec, PipelineSpec)
    assert doc.spec.dag.name == "my-dag"


def test_depends_on_across_groups_resolves() -> None:
    doc = parse_spec_text(PIPELINE, "p.yaml")
    assert {t.task_id: t.group for t in doc.tasks}["compile_data"] == "ingest"


def test_dependency_cycle_names_every_task_in_it() -> None:
    text = PIPELINE.replace(
        "compile_data: {execution_script: python -m norm.compile}",
        "compile_data: {execution_script: python -m norm.compile, depends_on: [fit_model]}",
    )
    (message,) = _messages(text)
    assert "dependency cycle: compile_data → fit_model → compile_data" in message
    assert message.startswith("f.yaml:24:74: ")
    assert "tasks.ingest.compile_data.depends_on" in message


def test_unknown_dependency_suggests_the_closest_task() -> None:
    (message,) = _messages(PIPELINE.replace("depends_on: [compile_data]", "depends_on: [compile]"))
    assert message == (
        "f.yaml:22:20: tasks.model.fit_model.depends_on[0]: depends on unknown task 'compile'; "
        "did you mean 'compile_data'?"
    )


def test_unknown_dependency_without_a_close_match_lists_the_tasks() -> None:
    (message,) = _messages(PIPELINE.replace("depends_on: [compile_data]", "depends_on: [zzz]"))
    assert message.endswith(
        "depends on unknown task 'zzz'; known tasks: compile_data, fit_model, invalidate_prior_data"
    )


def test_depends_on_listing_a_task_twice_is_an_error() -> None:
    text = PIPELINE.replace(
        "depends_on: [compile_data]", "depends_on: [compile_data, compile_data]"
    )
    (message,) = _messages(text)
    assert "tasks.model.fit_model.depends_on: lists a task more than once" in message


def test_graph_and_task_problems_come_together() -> None:
    text = PIPELINE.replace("depends_on: [compile_data]", "depends_on: [nope]").replace(
        "compile_data: {execution_script: python -m norm.compile}", "compile_data: {}"
    )
    messages = _messages(text)
    assert len(messages) == 2
    assert any("depends on unknown task 'nope'" in m for m in messages)
    assert any("task 'compile_data' has no execution_script" in m for m in messages)


def test_task_missing_several_fields_gets_one_problem_per_field() -> None:
    text = "dag: {team: analytics}\ntasks:\n  g:\n    t: {}\n"
    assert _messages(text) == [
        f"f.yaml:4:8: tasks.g.t: task 't' has no {name}; set `{name}` on the task or in "
        "`dag.defaults`"
        for name in ("resource_flavor", "docker_image", "execution_time", "execution_script")
    ]


def test_unknown_top_level_key_suggests_job_or_dag() -> None:
    assert _messages("jbo:\n  team: x\n") == [
        "f.yaml:1:1: jbo: unknown key 'jbo' at the top of the file; did you mean 'job'?"
    ]


def test_empty_mapping_document_is_explained() -> None:
    assert _messages("{}\n") == ["f.yaml:1:1: the mapping is empty; start with `job:` or `dag:`"]


def test_job_and_pipeline_in_one_file_is_an_error() -> None:
    (message,) = _messages(JOB + "tasks: {g: {t: {}}}\n")
    assert "tasks: a file holds either one `job:` or a pipeline" in message


def test_misspelt_required_key_gives_one_problem_with_did_you_mean() -> None:
    assert _messages(JOB.replace("resource_flavor", "resourse_flavor")) == [
        "f.yaml:3:3: job.resourse_flavor: unknown key 'resourse_flavor'; "
        "did you mean 'resource_flavor'?"
    ]


def test_unknown_key_far_from_any_field_lists_the_allowed_keys() -> None:
    (message,) = _messages(JOB + "  colour: blue\n")
    assert message.startswith("f.yaml:7:3: job.colour: unknown key 'colour'; allowed keys: name,")


def test_parse_spec_data_validates_plain_data_without_a_source() -> None:
    data = {
        "job": {
            "team": "vision",
            "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/vision/train:1.4.2",
            "execution_time": "5m",
            "execution_script": ["python", "train.py"],
            "retries": 3,
            "critical": True,
        }
    }
    job = parse_spec_data(data, "adhoc").spec
    assert isinstance(job, JobSpec)
    assert (job.name, job.retries, job.critical) == ("adhoc", 3, True)


def test_parse_spec_data_problems_point_at_the_document_start() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec_data({"job": {"team": "vision", "shedule": "x"}}, "adhoc")
    assert all(p.line == 1 and p.column == 1 for p in caught.value.problems)
    assert "adhoc:1:1: job.shedule: unknown key 'shedule'; did you mean 'schedule'?" in str(
        caught.value
    )


def test_read_spec_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing.yaml: cannot read the file: No such file"):
        read_spec(tmp_path / "missing.yaml", display_name="missing.yaml")


def test_load_spec_returns_the_model(tmp_path: Path) -> None:
    path = tmp_path / "train-classifier.yaml"
    path.write_text(JOB, encoding="utf-8")
    spec = load_spec(path)
    assert isinstance(spec, JobSpec)
    assert spec.name == "train-classifier"


def test_job_field_path_points_at_the_task_or_its_defaults() -> None:
    doc = parse_spec_text(PIPELINE, "p.yaml")
    index = {t.task_id: i for i, t in enumerate(doc.tasks)}
    assert doc.job_field_path(index["fit_model"], "resource_flavor") == (
        "tasks", "model", "fit_model", "resource_flavor"
    )  # fmt: skip
    assert doc.job_field_path(index["compile_data"], "resource_flavor") == (
        "dag", "defaults", "resource_flavor"
    )  # fmt: skip
    assert doc.job_field_path(index["compile_data"], "team") == ("dag", "team")


@pytest.mark.parametrize(
    ("group", "task", "bad"),
    [("ingest", "a b", "task"), ("ingest", "a.b", "task"), ("ingest", "-a", "task"),
     ("my group", "t", "group"), ("g.h", "t", "group"), ("g", "x" * 101, "task")],
)  # fmt: skip
def test_group_and_task_names_must_be_airflow_ids(group: str, task: str, bad: str) -> None:
    text = f"dag: {{team: analytics}}\ntasks:\n  '{group}':\n    '{task}': {{}}\n"
    messages = _messages(text)
    assert any(f"is not a valid {bad} name" in m for m in messages)


@pytest.mark.parametrize("name", ["compile_data", "Fit-Model", "_private", "1st", "a" * 100])
def test_task_names_of_letters_digits_underscores_and_dashes_are_accepted(name: str) -> None:
    text = PIPELINE.replace("compile_data", name)
    doc = parse_spec_text(text, "p.yaml")
    assert name in {t.task_id for t in doc.tasks}


def test_partial_pipeline_of_a_cycle_still_lists_every_resolved_task_once() -> None:
    text = PIPELINE.replace(
        "compile_data: {execution_script: python -m norm.compile}",
        "compile_data: {execution_script: python -m norm.compile, depends_on: [fit_model]}",
    )
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, "p.yaml")
    partial = caught.value.partial
    assert partial is not None
    assert sorted(t.task_id for t in partial.ordered_tasks()) == [
        "compile_data", "fit_model", "invalidate_prior_data"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("where", "key", "hint"),
    [
        ("task", "schedule", "`schedule` is set once for the whole pipeline, under `dag:`"),
        ("task", "critical", "`critical` is set once for the whole pipeline, under `dag:`"),
        ("defaults", "team", "`team` is set once for the whole pipeline, under `dag:`"),
        ("task", "shedule", "did you mean 'schedule'? `schedule` is set once for the whole"),
        ("task", "retry", "did you mean 'retries'?"),
    ],
)
def test_pipeline_level_keys_in_a_task_say_where_they_belong(
    where: str, key: str, hint: str
) -> None:
    if where == "task":
        text = PIPELINE.replace("    compile_data: {", f"    compile_data: {{{key}: x, ")
    else:
        text = PIPELINE.replace(
            "    execution_time: 30 minutes\n", f"    execution_time: 30 minutes\n    {key}: x\n"
        )
    (message,) = _messages(text)
    assert f"unknown key '{key}'; {hint}" in message


def test_very_long_values_are_shortened_in_messages() -> None:
    (message,) = _messages(JOB.replace("team: vision", "team: " + "v" * 100_000))
    assert "… (100,000 characters)' is not a valid team name" in message
    assert len(message) < 600
