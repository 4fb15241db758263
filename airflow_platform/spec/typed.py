"""What the loader checks of a task that uses a platform task type, without the config.

The type itself (its image, command and parameters) is the platform config's and is checked
by ``airflow_platform.tasktypes.calls``; here only the shape of the task: a typed task takes
its image and command from the type, and ``with:`` belongs to a typed task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_platform.spec.errors import Problem
from airflow_platform.spec.yamlsafe import Path, SourceMap

if TYPE_CHECKING:
    from airflow_platform.spec.models import TaskSpec

TYPE_BRINGS = ("docker_image", "execution_script")
"""The job fields a task type brings, which a typed task (and its defaults) leave out."""


def typed_task_problems(task: TaskSpec, path: Path, source: SourceMap) -> list[Problem]:
    """A typed task that sets what its type brings, or ``with:`` on an untyped task."""
    if task.operator_type is None:
        if task.with_:
            return [
                source.problem(
                    (*path, "with"),
                    "`with:` gives the parameters of a task type, but the task has no "
                    "`operator_type`",
                    "add `operator_type: <type>` (the platform config's `task_types:`), "
                    "or remove `with:`",
                    key=True,
                )
            ]
        return []
    own = [
        name
        for name in (*TYPE_BRINGS, "spark", "execution_notebook")
        if getattr(task, name) is not None
    ]
    return [
        source.problem(
            (*path, name),
            f"a task of type '{task.operator_type}' runs the type's image and command, so it "
            f"has no `{name}`",
            f"remove `{name}`, or remove `operator_type` to run your own",
            key=True,
        )
        for name in own
    ]
