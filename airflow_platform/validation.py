"""Spec + policy: a spec file read, then held to ``policy.check_job`` (the one guard, which
the operators also run at task start), with every problem located in the file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_platform.assets import asset_problems
from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.policy import RULE_FIELDS, Violation, check_job
from airflow_platform.spec.conditions import combination_count
from airflow_platform.spec.errors import Problem, SpecError
from airflow_platform.spec.explain import HINT_EXAMPLES
from airflow_platform.spec.loader import (
    Document,
    Home,
    parse_spec_data,
    parse_spec_text,
    read_spec,
)
from airflow_platform.tasktypes.calls import apply_task_types


def check_document(doc: Document, config: PlatformConfig) -> Document:
    """The document with its typed tasks running their task types; raises ``SpecError``
    (with file, line and field) for every task-type and policy rule a spec breaks."""
    doc, problems = apply_task_types(doc, config)
    problems += policy_problems(doc, config)
    if problems:
        raise SpecError(problems)
    return doc


def policy_problems(doc: Document, config: PlatformConfig) -> list[Problem]:
    """The policy's problems with a (possibly partial) document, located in its file.

    Rules that read a field the document holds only a stand-in for are skipped.
    """
    problems: list[Problem] = []
    for index, job in enumerate(doc.jobs):
        problems += located(doc, index, check_job(job, config))
    return problems + _sweep_problems(doc, config) + asset_problems(doc, config)


def _sweep_problems(doc: Document, config: PlatformConfig) -> list[Problem]:
    """Sweeps with more combinations than the platform allows (each is a pod)."""
    cap = config.policy.max_matrix_combinations
    problems = []
    for task in doc.tasks:
        count = combination_count(task.matrix or {})
        if count > cap:
            sizes = " × ".join(str(len(v)) for v in (task.matrix or {}).values())
            problems.append(
                doc.source.problem(
                    ("tasks", task.group, task.task_id, "matrix"),
                    f"the sweep has {sizes} = {count} combinations, more than the platform's "
                    f"cap of {cap} (policy.max_matrix_combinations)",
                    "sweep fewer values, or split the sweep into stages",
                )
            )
    return problems


def located(doc: Document, index: int, violations: list[Violation]) -> list[Problem]:
    """The violations of job ``index`` of ``doc`` as problems located where it was written."""
    return [
        doc.source.problem(
            doc.violation_path(index, violation.field),
            violation.message,
            violation.hint,
            key=violation.field[0] == "env",
        )
        for violation in violations
        if not RULE_FIELDS.get(violation.reason, frozenset()) & doc.unreliable_for(index)
    ]


def hint_examples(config: PlatformConfig) -> dict[str, dict[str, str]]:
    """The examples the loader's hints quote, per team: its smallest CPU flavor and an image
    under its path of the allowed registry ("" holds the known teams)."""
    examples: dict[str, dict[str, str]] = {"": {"teams": ", ".join(config.teams)}}
    registry = next((p for p in config.policy.allowed_images if p.endswith("/")), None)
    for team in config.teams:
        mine = examples[team] = {}
        starter = config.starter_flavor(team)
        if starter:
            mine["resource_flavor"] = starter
        if registry:
            mine["docker_image"] = f"{registry}{team}/<image>:<tag>"
    return examples


@contextmanager
def _hints_for(config: PlatformConfig) -> Iterator[None]:
    token = HINT_EXAMPLES.set(hint_examples(config))
    try:
        yield
    finally:
        HINT_EXAMPLES.reset(token)


def _with_policy(read: Callable[[], Document], config: PlatformConfig) -> Document:
    """Reads a spec and checks the policy, reporting the problems of both in one error."""
    try:
        with _hints_for(config):
            doc = read()
    except SpecError as exc:
        if isinstance(exc.partial, Document):
            partial, more = apply_task_types(exc.partial, config)
            more += policy_problems(partial, config)
            if more:
                raise SpecError([*exc.problems, *more]) from None
        raise
    return check_document(doc, config)


def validate_file(path: str | Path, config: PlatformConfig | None = None) -> Document:
    """Loads a spec file and checks it against the policy; raises ``SpecError``.

    The spec's team is its folder under the jobs folder (``spec.loader.home_of``).
    """
    return _with_policy(lambda: read_spec(path), config or load_config())


def validate_text(
    text: str,
    name: str,
    config: PlatformConfig | None = None,
    home: Home | None = None,
    *,
    folder: Path | None = None,
) -> Document:
    """Validates a spec file's text (read by the caller, who keeps it) like ``validate_file``;
    ``home`` is where the file lives (its team), ``folder`` the folder of its notebooks
    (``name``'s by default)."""
    return _with_policy(
        lambda: parse_spec_text(text, name, home, folder=folder), config or load_config()
    )


def validate_data(data: Any, name: str, config: PlatformConfig | None = None) -> Document:
    """Validates a spec given as data (an ad-hoc run's conf) like a file; raises ``SpecError``."""
    return _with_policy(lambda: parse_spec_data(data, name), config or load_config())
