"""The pipeline's graph, ordered and searched by graphlib: properties over random pipelines.

Hypothesis draws pipelines of up to eight tasks with random `depends_on`; the loader reads
them from YAML text like any spec. An acyclic one runs each task after all it depends on, in
file order among the tasks ready together; a cyclic one is refused naming a real cycle.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import _find_cycle, parse_spec_text

pytestmark = pytest.mark.unit

_HEAD = (
    "dag:\n  name: g\n  team: analytics\n  defaults: {resource_flavor: cpu-2gb, "
    "docker_image: registry.internal/analytics/x:1, execution_time: 1m, execution_script: 'true'}\n"
    "tasks:\n"
)


@st.composite
def _graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    names = [f"t{i}" for i in range(draw(st.integers(1, 8)))]
    names = draw(st.permutations(names))  # file order is not name order
    return {n: draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) for n in names}


def _text(graph: dict[str, list[str]]) -> str:
    """The pipeline in two groups, even positions in g0 and odd ones in g1 (``_file_order``)."""
    groups: dict[int, list[str]] = {0: [], 1: []}
    for i, name in enumerate(graph):
        groups[i % 2].append(f"    {name}: {{depends_on: [{', '.join(graph[name])}]}}\n")
    return _HEAD + "".join(f"  g{g}:\n" + "".join(lines) for g, lines in groups.items() if lines)


def _file_order(graph: dict[str, list[str]]) -> list[str]:
    names = list(graph)
    return [n for n in names if names.index(n) % 2 == 0] + [
        n for n in names if names.index(n) % 2 == 1
    ]


def _reference_order(graph: dict[str, list[str]], order: list[str]) -> list[str]:
    """Rounds of the tasks whose dependencies are all done, each round in file order."""
    done: list[str] = []
    while len(done) < len(order):
        ready = [n for n in order if n not in done and all(d in done for d in graph[n])]
        assert ready
        done += ready
    return done


def _is_cycle(graph: dict[str, list[str]], cycle: list[str]) -> bool:
    return bool(cycle) and all(cycle[(i + 1) % len(cycle)] in graph[n] for i, n in enumerate(cycle))


@settings(max_examples=300, deadline=None)
@given(_graphs())
def test_pipelines_order_their_tasks_or_name_a_real_cycle(graph: dict[str, list[str]]) -> None:
    cycle = _find_cycle({n: tuple(d) for n, d in graph.items()})
    try:
        doc = parse_spec_text(_text(graph), "g.yaml")
    except SpecError as exc:
        assert cycle
        assert _is_cycle(graph, cycle)
        (message,) = [p.message for p in exc.problems]
        named = message.removeprefix("dependency cycle: ").split(" → ")
        assert named[0] == named[-1] == min(named)
        assert _is_cycle(graph, named[:-1])
        return
    assert cycle == []
    order = [t.task_id for t in doc.ordered_tasks()]
    assert order == _reference_order(graph, _file_order(graph))


def test_a_partial_pipeline_orders_what_it_can_and_puts_the_cycle_last() -> None:
    text = _HEAD + (
        "  g:\n    a: {}\n    b: {depends_on: [c]}\n    c: {depends_on: [b]}\n"
        "    d: {depends_on: [a]}\n    e: {depends_on: [b]}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, "g.yaml")
    assert re.search(r"dependency cycle: b → c → b", str(caught.value))
    partial = caught.value.partial
    assert partial is not None
    assert [t.task_id for t in partial.ordered_tasks()] == ["a", "d", "b", "c", "e"]
