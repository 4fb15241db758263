"""Gates at run time: a task's published result (``result.json``), its ``when:`` condition
evaluated on its upstream tasks' results, and Airflow's trigger rules for the local runner.

A result is a small JSON object a task writes to ``$AIRFLOW_PLATFORM_OUTPUT_DIR/result.json``
with the keys its ``result:`` declares. On the cluster (and through Airflow on the local
backend) it is pushed as the task's XCom ``result``; `run --local` reads it from the task's
folder. A condition is evaluated here from those values, never as code.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_platform.spec.conditions import Condition, typed
from airflow_platform.spec.params import Scalar

RESULT_FILE = "result.json"
RESULT_XCOM = "result"

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_KINDS: dict[str, Callable[[Any], bool]] = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
}

Results = Mapping[str, Mapping[str, Scalar]]


class ResultError(Exception):
    """A task's ``result.json`` is missing, too large or not what its ``result:`` declares."""


def check_result(data: bytes | None, declared: Mapping[str, str], cap: int) -> dict[str, Scalar]:
    """The declared keys of a result file's bytes (``None``: no file); raises ``ResultError``."""
    where = f"$AIRFLOW_PLATFORM_OUTPUT_DIR/{RESULT_FILE}"
    example = json.dumps({key: _EXAMPLES[kind] for key, kind in declared.items()})
    if data is None:
        raise ResultError(f"the task declares `result:` but wrote no {where}; write e.g. {example}")
    if len(data) > cap:
        raise ResultError(
            f"{where} is {len(data)} bytes, more than the platform's cap of {cap} "
            "(policy.max_result_bytes); publish only the keys a condition reads"
        )
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ResultError(f"{where} is not JSON ({exc}); write e.g. {example}") from None
    if not isinstance(value, dict):
        raise ResultError(f"{where} holds no JSON object; write e.g. {example}")
    problems = [
        f"'{key}' is missing" if key not in value else f"'{key}' is not a {kind}"
        for key, kind in declared.items()
        if key not in value or not _KINDS[kind](value[key])
    ]
    if problems:
        raise ResultError(f"{where}: {'; '.join(problems)}; write e.g. {example}")
    return {key: value[key] for key in declared}


_EXAMPLES: dict[str, Scalar] = {"number": 0.9, "string": "text", "boolean": True}


def read_result(folder: Path, declared: Mapping[str, str], cap: int) -> dict[str, Scalar]:
    """The result a task left in its output ``folder``; raises ``ResultError``."""
    file = folder / RESULT_FILE
    try:
        data = file.read_bytes() if file.is_file() else None
    except OSError as exc:
        raise ResultError(f"cannot read {RESULT_FILE}: {exc.strerror}") from None
    return check_result(data, declared, cap)


def evaluate(
    condition: Condition, results: Results, declared: Mapping[str, Mapping[str, str]]
) -> bool:
    """Whether ``condition`` holds. A comparison with a key of a task that published no
    result (it was skipped) is false."""
    if condition.all is not None:
        return all(evaluate(c, results, declared) for c in condition.all)
    if condition.any is not None:
        return any(evaluate(c, results, declared) for c in condition.any)
    if condition.not_ is not None:
        return not evaluate(condition.not_, results, declared)
    left = _value(results, condition.task, condition.key)
    if condition.value_of is not None:
        right = _value(results, condition.value_of.task, condition.value_of.key)
    else:
        kind = declared[condition.task or ""][condition.key or ""]
        right = typed(condition.value or "", kind)  # type: ignore[arg-type]
    if left is None or right is None:
        return False
    return _OPS[condition.op or "=="](left, right)


def explain(condition: Condition, results: Results) -> str:
    """The values a condition compared, for the task log: ``evaluate.gain = 0.14``."""
    seen = []
    for _, comparison in condition.comparisons():
        refs = [(comparison.task, comparison.key)]
        if comparison.value_of is not None:
            refs.append((comparison.value_of.task, comparison.value_of.key))
        for task, key in refs:
            value = _value(results, task, key)
            text = "no result" if value is None else json.dumps(value)
            seen.append(f"{task}.{key} = {text}")
    return ", ".join(dict.fromkeys(seen))


def _value(results: Results, task: str | None, key: str | None) -> Scalar | None:
    return results.get(task or "", {}).get(key or "")


def trigger_decision(rule: str, upstream: Sequence[str]) -> str:
    """What Airflow does with a task of trigger rule ``rule`` once its upstream tasks ended in
    the states ``upstream``: ``run``, ``skipped`` or ``upstream_failed``. The local runner
    follows it, so `run --local` takes the branches a run on the platform takes."""
    if not upstream:
        return "run"
    done = len(upstream)
    ok = upstream.count("success")
    failed = sum(s in ("failed", "upstream_failed") for s in upstream)
    skipped = upstream.count("skipped")
    if rule == "all_success":
        return "run" if ok == done else ("upstream_failed" if failed else "skipped")
    if rule == "all_done":
        return "run"
    if rule == "all_failed":
        return "run" if failed == done else "skipped"
    if rule == "all_skipped":
        return "run" if skipped == done else "skipped"
    if rule == "one_failed":
        return "run" if failed else "skipped"
    if rule == "one_success":
        return "run" if ok else ("upstream_failed" if failed == done else "skipped")
    if rule == "none_failed":
        return "upstream_failed" if failed else "run"
    if rule == "none_failed_min_one_success":
        return "upstream_failed" if failed else ("run" if ok else "skipped")
    raise ValueError(f"unknown trigger rule {rule!r}")
