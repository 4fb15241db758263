"""GateOperator: the check of a task's ``when:``, as an Airflow task before it.

It reads the results its condition names (the XCom ``result`` of each task) and, when the
condition is false, skips the gated task — only that task: the tasks after it follow their
own trigger rules, so an alert with ``trigger_rule: all_skipped`` still runs. The Airflow
graph shows the branch as the task ``<task>__when``.

It does what Airflow's ShortCircuitOperator does with ``ignore_downstream_trigger_rules=False``,
on a plain BaseOperator: a ShortCircuitOperator is a PythonOperator, whose callable and
arguments the dag-processor serializes for every gate of every DAG, about as costly as a job
task; this one serializes as little as any task can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.skipmixin import SkipMixin

from airflow_platform.gates import RESULT_XCOM, evaluate, explain
from airflow_platform.spec.conditions import Condition
from airflow_platform.spec.params import Scalar


class GateOperator(BaseOperator, SkipMixin):
    """Skips its downstream task unless ``condition`` holds on the published results.

    :param condition: the gated task's ``when:``.
    :param sources: the Airflow task id of each task the condition names (by task name).
    :param declared: each of those tasks' declared ``result:`` keys and types.
    """

    # Nothing of a spec is ever rendered by Jinja: the condition's values stay as written.
    template_fields = ()
    ui_color = "#fdf1d6"
    # Read by Airflow's NotPreviouslySkippedDep: a gated sweep's combinations, expanded after
    # the gate ran, are skipped by the gate's record of what it skipped.
    inherits_from_skipmixin = True

    def __init__(
        self,
        *,
        condition: Condition,
        sources: Mapping[str, str],
        declared: Mapping[str, Mapping[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.condition = condition
        self.sources = dict(sources)
        self.declared = {task: dict(keys) for task, keys in declared.items()}

    def execute(self, context: Any) -> bool:
        """Whether the condition holds (the XCom ``return_value``); when not, the gated task
        (every direct downstream task but a teardown) is skipped."""
        holds = self._holds(context["ti"])
        if not holds:
            downstream = context["task"].get_direct_relatives(upstream=False)
            to_skip = [task for task in downstream if not task.is_teardown]
            if to_skip:
                self.skip(ti=context["ti"], tasks=to_skip)
        return holds

    def _holds(self, ti: Any) -> bool:
        results: dict[str, Mapping[str, Scalar]] = {}
        for name, task_id in self.sources.items():
            found = ti.xcom_pull(task_ids=task_id, key=RESULT_XCOM)
            if isinstance(found, dict):
                results[name] = found
        holds = evaluate(self.condition, results, self.declared)
        self.log.info(
            "when: %s (%s)", "true, the task runs" if holds else "false, the task is skipped",
            explain(self.condition, results),
        )  # fmt: skip
        return holds
