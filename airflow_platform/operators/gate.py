"""GateOperator: the check of a task's ``when:``, as an Airflow short-circuit task before it.

It reads the results its condition names (the XCom ``result`` of each task) and, when the
condition is false, skips the gated task — only that task: the tasks after it follow their
own trigger rules, so an alert with ``trigger_rule: all_skipped`` still runs. The Airflow
graph shows the branch as the task ``<task>__when``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.python import ShortCircuitOperator

from airflow_platform.gates import RESULT_XCOM, evaluate, explain
from airflow_platform.spec.conditions import Condition
from airflow_platform.spec.params import Scalar


class GateOperator(ShortCircuitOperator):
    """Skips its downstream task unless ``condition`` holds on the published results.

    :param condition: the gated task's ``when:``.
    :param sources: the Airflow task id of each task the condition names (by task name).
    :param declared: each of those tasks' declared ``result:`` keys and types.
    """

    # Nothing of a spec is ever rendered by Jinja: the condition's values stay as written.
    template_fields = ()
    ui_color = "#fdf1d6"

    def __init__(
        self,
        *,
        condition: Condition,
        sources: Mapping[str, str],
        declared: Mapping[str, Mapping[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(
            python_callable=self._holds, ignore_downstream_trigger_rules=False, **kwargs
        )
        self.condition = condition
        self.sources = dict(sources)
        self.declared = {task: dict(keys) for task, keys in declared.items()}

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
