"""A pipeline run by the local runner, task after task, taking the branches Airflow takes:
each task's trigger rule decides from its upstream tasks' states whether it runs, its
``when:`` condition from their results whether it is skipped, and a sweep (``matrix:``) runs
each combination in turn with the layout of Airflow's mapped tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from airflow_platform.gates import evaluate, explain, trigger_decision
from airflow_platform.runners.local import LocalResult
from airflow_platform.spec.conditions import combinations
from airflow_platform.spec.models import PipelineTask
from airflow_platform.spec.params import Scalar

RunOne = Callable[[PipelineTask, int | None, Mapping[str, str] | None], LocalResult]
"""Runs one task (one combination ``map index`` with its ``values`` for a sweep)."""


@dataclass
class PipelineOutcome:
    """Each task's final state (Airflow's words) and the first failing task's exit code."""

    states: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0


def run_pipeline(
    tasks: Sequence[PipelineTask],
    run_one: RunOne,
    say: Callable[[str], None],
    *,
    whole: bool = True,
) -> PipelineOutcome:
    """Runs ``tasks`` (in dependency order). ``whole``: the pipeline's every task, so trigger
    rules and conditions apply; a single task picked by hand (``--task``) just runs."""
    outcome = PipelineOutcome()
    results: dict[str, Mapping[str, Scalar]] = {}
    declared = {task.task_id: task.result for task in tasks}
    for task in tasks:
        label = task.qualified_id
        if whole:
            decision = trigger_decision(
                task.trigger_rule, [outcome.states.get(u, "success") for u in task.depends_on]
            )
            if decision != "run":
                outcome.states[task.task_id] = decision
                say(f"○ {label}: {decision} (trigger rule {task.trigger_rule})")
                continue
            if task.when is not None and not evaluate(task.when, results, declared):
                outcome.states[task.task_id] = "skipped"
                say(f"○ {label}: skipped, its `when:` is false ({explain(task.when, results)})")
                continue
        ended = _run_task(task, run_one)
        if ended is None or not ended.succeeded:
            outcome.states[task.task_id] = "failed"
            if outcome.exit_code == 0:
                outcome.exit_code = ended.exit_code if ended else 1
            continue
        outcome.states[task.task_id] = "success"
        if ended.result is not None:
            results[task.task_id] = ended.result
    return outcome


def _run_task(task: PipelineTask, run_one: RunOne) -> LocalResult | None:
    """The task's run; for a sweep, the first failed combination's (each runs regardless,
    as Airflow's mapped task instances do), else the last's."""
    if not task.matrix:
        return run_one(task, None, None)
    last: LocalResult | None = None
    failed: LocalResult | None = None
    for index, values in enumerate(combinations(task.matrix)):
        last = run_one(task, index, values)
        if not last.succeeded and failed is None:
            failed = last
    return failed or last
