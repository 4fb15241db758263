"""Every problem at once: mistakes that each show alone show together, in one run.

A valid pipeline gets any combination of independent mistakes of different kinds — unknown
keys, a bad value, a missing field, an unknown flavor, a misspelt dependency, a bad task name,
policy violations — each in its own place. The problems `validate` reports for the combination
must be exactly the union of those it reports for each mistake alone: nothing staged behind
another round, nothing invented by the combination. Problems are compared by field path and
message (line numbers move as the YAML is written out).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_platform.config import PlatformConfig
from airflow_platform.spec.errors import SpecError
from airflow_platform.validation import validate_text

pytestmark = pytest.mark.unit

IMAGE = "registry.internal/analytics/norm:2.0"
PIPELINE: dict[str, Any] = {
    "dag": {
        "name": "norm",
        "team": "analytics",
        "schedule": "0 6 * * *",
        "defaults": {"resource_flavor": "cpu-4gb", "docker_image": IMAGE, "execution_time": "30m"},
    },
    "tasks": {
        "ingest": {
            "compile": {"execution_script": "python -m norm.compile"},
            "detect": {"execution_script": "python -m norm.detect", "depends_on": ["compile"]},
            "clean": {"execution_script": "python -m norm.clean", "depends_on": ["compile"]},
        },
        "model": {
            "fit": {"execution_script": "python -m norm.fit", "depends_on": ["detect"]},
            "call": {"execution_script": "python -m norm.call", "depends_on": ["fit"]},
            "check": {"execution_script": "python -m norm.check", "depends_on": ["fit"]},
            "report": {"execution_script": "python -m norm.report", "depends_on": ["call"]},
            "archive": {"execution_script": "python -m norm.archive", "depends_on": ["clean"]},
        },
    },
}


def _task(tree: dict[str, Any], name: str) -> dict[str, Any]:
    group = "ingest" if name in tree["tasks"]["ingest"] else "model"
    task: dict[str, Any] = tree["tasks"][group][name]
    return task


def _set(name: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda tree: _task(tree, name).update(values)


def _rename(tree: dict[str, Any]) -> None:
    tree["tasks"]["model"]["Check Results"] = tree["tasks"]["model"].pop("check")


def _without_script(tree: dict[str, Any]) -> None:
    del _task(tree, "clean")["execution_script"]


# Each touches its own place of the pipeline.
MISTAKES: dict[str, Callable[[dict[str, Any]], None]] = {
    "unknown dag key": lambda tree: tree["dag"].update(shedule="daily"),
    "unknown task key": _set("compile", retires=2),
    "bad duration": _set("detect", execution_time="30 minuets"),
    "missing script": _without_script,
    "unknown flavor": _set("fit", resource_flavor="cpu-16gbb"),
    "misspelt dependency": _set("call", depends_on=["fitt"]),
    "bad task name": _rename,
    "unpinned image": _set("report", docker_image="registry.internal/analytics/norm"),
    "over the time limit": _set("archive", execution_time="30 hours"),
    "platform variable in env": _set("call", env={"AIRFLOW_PLATFORM_RUN_ID": "x"}),
}


def _problems(tree: dict[str, Any], config: PlatformConfig) -> set[tuple[str, str]]:
    try:
        validate_text(yaml.safe_dump(tree, sort_keys=False), "norm.yaml", config)
    except SpecError as exc:
        return {(p.path, p.message) for p in exc.problems}
    return set()


def _with(names: list[str]) -> dict[str, Any]:
    tree = copy.deepcopy(PIPELINE)
    for name in names:
        MISTAKES[name](tree)
    return tree


def test_the_pipeline_is_valid_and_each_mistake_alone_is_reported(
    default_config: PlatformConfig,
) -> None:
    assert _problems(PIPELINE, default_config) == set()
    for name in MISTAKES:
        assert _problems(_with([name]), default_config), name


@settings(max_examples=80, derandomize=True, database=None, deadline=None)
@given(st.lists(st.sampled_from(sorted(MISTAKES)), min_size=2, unique=True))
def test_mistakes_together_are_reported_together_in_one_run(
    default_config: PlatformConfig, names: list[str]
) -> None:
    alone = set().union(*(_problems(_with([n]), default_config) for n in names))
    assert _problems(_with(names), default_config) == alone


def test_all_ten_mistakes_in_one_file_give_every_problem_in_one_run(
    default_config: PlatformConfig,
) -> None:
    alone = set().union(*(_problems(_with([n]), default_config) for n in MISTAKES))
    together = _problems(_with(list(MISTAKES)), default_config)
    assert together == alone
    assert len(together) >= len(MISTAKES)
