"""The rails of the guarded operators, shared by ``JobOperator`` and ``SparkJobOperator``:
the arguments of their base that they refuse, and the one guard they run.

The guard is ``policy.check_job`` — the function `validate` and the DAG factory run too —
turned into a ``PolicyViolation``: once when a hand-written DAG builds an operator from a job
nobody has checked, and once when each try starts, against the catalog of that day.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.metrics import emit as metrics
from airflow_platform.policy import check_job
from airflow_platform.spec.models import JobSpec


class PolicyViolation(AirflowFailException):
    """The job breaks the platform's policy; retrying cannot help."""

    reasons: tuple[str, ...] = ()  # the violations' bounded reasons, for metrics


class ConfRejected(PolicyViolation):
    """An ad-hoc run's conf is not a valid, allowed job spec, or its caller may not run it."""


def enforce(job: JobSpec, config: PlatformConfig) -> None:
    """Raises ``PolicyViolation`` naming every rule ``job`` breaks under ``config``."""
    violations = check_job(job, config)
    if violations:
        text = "; ".join(
            f"job.{'.'.join(v.field)}: {v.message}" + (f" ({v.hint})" if v.hint else "")
            for v in violations
        )
        error = PolicyViolation(f"job {job.name} breaks the platform policy: {text}")
        error.reasons = tuple(v.reason for v in violations)
        raise error


def enforce_at_start(
    job: JobSpec,
    config: PlatformConfig | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
) -> PlatformConfig:
    """The guard of a try, against today's catalog (it may have changed since the DAG was
    parsed); counts the try's rejection or start (as task ``task_id`` of DAG ``dag_id``).
    Returns the config it checked against."""
    config = config or load_config()
    try:
        enforce(job, config)
    except PolicyViolation as exc:
        metrics.record_rejection(job, exc.reasons, dag_id)
        raise
    metrics.record_start(job, config, dag_id, task_id)
    return config


_BASE_ARGS = set(inspect.signature(BaseOperator.__init__).parameters) - {"self", "kwargs"}
# BaseOperator arguments that would still let a DAG step outside the rails: where and as whom
# the task runs, and a time limit other than the spec's.
_ALWAYS_REFUSED = {"executor_config", "run_as_user", "execution_timeout", "executor", "queue"}


def refused_arguments(base: type[BaseOperator]) -> frozenset[str]:
    """The arguments of ``base`` beyond BaseOperator's scheduling ones, plus the always-refused."""
    return frozenset(
        (set(inspect.signature(base.__init__).parameters) - _BASE_ARGS) | _ALWAYS_REFUSED
    )


def refuse(operator: str, kwargs: Iterable[str], refused: frozenset[str], derived: str) -> None:
    """Raises ``TypeError`` naming every refused argument in ``kwargs`` and what replaces it."""
    if refused.isdisjoint(kwargs):
        return
    found = sorted(refused.intersection(kwargs))
    raise TypeError(f"{operator} does not take {', '.join(found)}: the platform derives {derived}")


def caller_roles(user: str) -> set[str]:
    """The Airflow roles of ``user``, as far as a worker can know them: the simple auth
    manager's users are in airflow.cfg (``[core] simple_auth_manager_users``); other auth
    managers keep roles where a worker cannot read them, so their users map by name only."""
    from airflow.configuration import conf

    manager = conf.get("core", "auth_manager", fallback="") or ""
    if manager.rsplit(".", 1)[-1] != "SimpleAuthManager":
        return set()
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    return {u.role for u in SimpleAuthManager.get_users() if u.username == user and u.role}


def caller_team(context: Any, requested: object, config: PlatformConfig) -> str:
    """The team an ad-hoc run may run as: one its authenticated caller may run as (by user or
    role, ``teams.<team>.users`` / ``roles``), chosen by the conf's ``team:`` when the caller
    has several. Nothing in the conf can name a team beyond those; raises ``ConfRejected``."""
    run = context.get("dag_run") if context else None
    user = getattr(run, "triggering_user_name", None)
    if not user:
        raise _caller_refused(
            "the run has no authenticated caller, so it cannot run as any team: trigger it "
            "through the Airflow API as a user (`airflow-platform submit`)"
        )
    allowed = config.teams_of_caller(user, caller_roles(user))
    may = f"(you may run as: {', '.join(allowed)})" if allowed else ""
    if requested is not None:
        if requested not in allowed:
            raise _caller_refused(
                f"Airflow user '{user}' may not run jobs as team '{requested}' "
                + (may or "(nor as any other team)")
                + "; ask the platform team to add you or your role to "
                f"teams.{requested}.users or .roles"
            )
        return str(requested)
    if len(allowed) == 1:
        return allowed[0]
    if not allowed:
        raise _caller_refused(
            f"Airflow user '{user}' may not run jobs as any team; ask the platform team to add "
            "you or your role to teams.<team>.users or .roles"
        )
    raise _caller_refused(f"say which team the job is for with `team:` {may}")


def _caller_refused(message: str) -> ConfRejected:
    error = ConfRejected(message)
    error.reasons = ("team_not_allowed",)
    return error
