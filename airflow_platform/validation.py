"""Spec + policy: the check `validate`, the DAG factory and the operators all run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.policy import check_job
from airflow_platform.spec.errors import Problem, SpecError
from airflow_platform.spec.loader import Document, parse_spec_data, read_spec


def check_document(doc: Document, config: PlatformConfig) -> Document:
    """Raises ``SpecError`` (with file, line and field) for every policy rule a spec breaks."""
    problems: list[Problem] = []
    for index, job in enumerate(doc.jobs):
        for violation in check_job(job, config):
            problems.append(
                doc.source.problem(
                    doc.violation_path(index, violation.field),
                    violation.message,
                    violation.hint,
                    key=violation.field[0] == "env",
                )
            )
    if problems:
        raise SpecError(problems)
    return doc


def validate_file(path: str | Path, config: PlatformConfig | None = None) -> Document:
    """Loads a spec file and checks it against the policy; raises ``SpecError``."""
    return check_document(read_spec(path), config or load_config())


def validate_data(data: Any, name: str, config: PlatformConfig | None = None) -> Document:
    """Validates a spec given as data (an ad-hoc run's conf) like a file; raises ``SpecError``."""
    return check_document(parse_spec_data(data, name), config or load_config())
