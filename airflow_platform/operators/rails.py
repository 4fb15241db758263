"""What a guarded operator refuses: every argument of its base that shapes the pod or run.

Shared by ``JobOperator`` and ``SparkJobOperator``, so both rails are built the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from airflow.sdk import BaseOperator

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
