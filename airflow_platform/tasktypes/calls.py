"""A spec task's ``operator_type:`` and ``with:`` checked against the platform's task types,
and the task turned into the job that runs the type.

The parameters reach the program as data: one JSON object, the argument after
``--parameters`` behind the type's exec-form command (never a shell line), with the type's
defaults filled in. Everything else about the job (flavor, time limit, env, secrets) is the
task's, held to the policy like any other job.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from airflow_platform.config import PlatformConfig
from airflow_platform.spec.errors import Problem, did_you_mean
from airflow_platform.spec.loader import Document
from airflow_platform.spec.models import JobSpec, PipelineTask
from airflow_platform.spec.typed import TYPE_BRINGS
from airflow_platform.spec.yamlsafe import Path
from airflow_platform.tasktypes.model import DESCRIBE, TaskType, Value, coerce

PARAMETERS_FLAG = "--parameters"


def apply_task_types(doc: Document, config: PlatformConfig) -> tuple[Document, list[Problem]]:
    """``doc`` with every typed task's job running its type, and what is wrong with the
    tasks' types and parameters (every problem of every task)."""
    problems: list[Problem] = []
    tasks: list[PipelineTask] = []
    unreliable = dict(doc.task_unreliable)
    for index, task in enumerate(doc.tasks):
        if task.operator_type is None:
            tasks.append(task)
            continue
        path: Path = ("tasks", task.group, task.task_id)
        task_type = config.task_types.get(task.operator_type)
        if task_type is None:
            problems.append(_unknown_type(doc, path, task.operator_type, config))
            tasks.append(task)
            # Its job holds the loader's stand-ins for the image and command: leave them be.
            unreliable[task.task_id] = unreliable.get(task.task_id, frozenset()) | set(TYPE_BRINGS)
            continue
        values, found = _parameters(doc, path, task, task_type)
        problems += found
        if "resource_flavor" not in doc.unreliable_for(index):
            problems += _flavor_problems(doc, index, task, task_type)
        tasks.append(replace(task, job=typed_job(task.job, task_type, values)))
        if task.task_id in unreliable:
            unreliable[task.task_id] = unreliable[task.task_id] - set(TYPE_BRINGS)
    return replace(doc, tasks=tasks, task_unreliable=unreliable), problems


def typed_job(job: JobSpec, task_type: TaskType, parameters: dict[str, Value]) -> JobSpec:
    """The job running ``task_type`` with ``parameters`` (already checked)."""
    argument = json.dumps(parameters, sort_keys=True, separators=(",", ":"))
    command = [*task_type.command, PARAMETERS_FLAG, argument]
    return job.model_copy(update={"docker_image": task_type.image, "execution_script": command})


def _unknown_type(doc: Document, path: Path, name: str, config: PlatformConfig) -> Problem:
    known = sorted(config.task_types)
    hint = did_you_mean(name, known)
    listing = f"known: {', '.join(known)}" if known else "the platform config defines none"
    return doc.source.problem(
        (*path, "operator_type"),
        f"unknown task type '{name}'",
        f"{hint} {listing}" if hint else listing,
    )


def _parameters(
    doc: Document, path: Path, task: PipelineTask, task_type: TaskType
) -> tuple[dict[str, Value], list[Problem]]:
    """The parameters with the type's defaults, and every unknown, mistyped or missing one."""
    problems: list[Problem] = []
    values: dict[str, Value] = {}
    declared = task_type.parameters
    given: dict[str, Any] = dict(task.with_)
    for key, value in given.items():
        where: Path = (*path, "with", key)
        spec = declared.get(key)
        if spec is None:
            hint = did_you_mean(key, declared)
            known = f"{task.operator_type} takes: {', '.join(declared) or 'no parameters'}"
            problems.append(
                doc.source.problem(
                    where, f"unknown parameter '{key}'", f"{hint} {known}" if hint else known,
                    key=True,
                )
            )  # fmt: skip
            continue
        try:
            values[key] = coerce(spec.type, value)
        except ValueError as exc:
            problems.append(
                doc.source.problem(
                    where, f"parameter '{key}' of {task.operator_type}: {exc}",
                    f"write `{key}:` as {DESCRIBE[spec.type]}: {spec.description}",
                )
            )  # fmt: skip
    for key, spec in declared.items():
        if key in given:
            continue
        if spec.required:
            problems.append(
                doc.source.problem(
                    (*path, "with") if given else (*path, "operator_type"),
                    f"task type {task.operator_type} needs the parameter '{key}'",
                    f"add `{key}:` under `with:`: {spec.description}",
                )
            )
        elif spec.default is not None:
            values[key] = coerce(spec.type, spec.default)
    return values, problems


def _flavor_problems(
    doc: Document, index: int, task: PipelineTask, task_type: TaskType
) -> list[Problem]:
    allowed = task_type.flavors
    flavor = task.job.resource_flavor
    if allowed is None or flavor in allowed:
        return []
    return [
        doc.source.problem(
            doc.job_field_path(index, "resource_flavor"),
            f"task type {task.operator_type} does not run on flavor '{flavor}'",
            f"use one of {', '.join(allowed)}",
        )
    ]
