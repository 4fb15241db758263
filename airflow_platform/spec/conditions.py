"""Gates and sweeps as a spec writes them: a task's ``when:`` condition on upstream tasks'
results, the ``result:`` keys a task publishes, and its ``matrix:`` of sweep values.

A condition is data, never code: a comparison of one published key with a value or with
another task's key, and ``all:`` / ``any:`` / ``not:`` around conditions. The loader checks
every reference against the pipeline (``condition_problems``) so that a condition on an unknown
task or key is a located error at load time; ``airflow_platform.gates`` evaluates it at run time.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from airflow_platform.spec.errors import closest, did_you_mean, shorten
from airflow_platform.spec.params import ParamError, Scalar, infer_item, parse_scalar

OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
ResultType = Literal["number", "string", "boolean"]
MAX_DEPTH = 8
"""How deeply ``all:``/``any:``/``not:`` may nest: a person never needs more, and the bound
keeps evaluation and error messages small."""
RESULT_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")

# defer_build: a model's validator is built when it is first used, not at import, so that
# `validate` of a job file never pays for the pipeline models (CLI start-up, bench cli_startup).
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True, defer_build=True)


def _check_key(what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not RESULT_KEY.fullmatch(value):
            raise ValueError(
                f"'{shorten(value)}' is not a valid {what}: use letters, digits and '_', not "
                "starting with a digit, at most 63 characters"
            )
        return value

    return AfterValidator(check)


def _check_op(value: str) -> str:
    if value not in OPERATORS:
        close = "==" if value in ("=", "is", "eq") else closest(value, OPERATORS)
        hint = f"did you mean '{close}'? " if close else ""
        raise ValueError(
            f"'{shorten(value)}' is not an operator; {hint}use one of {' '.join(OPERATORS)}"
        )
    return value


Operator = Annotated[
    str, AfterValidator(_check_op), WithJsonSchema({"type": "string", "enum": list(OPERATORS)})
]
ResultKey = Annotated[str, _check_key("result key")]
MatrixKey = Annotated[str, _check_key("matrix key")]


def _check_values(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("a matrix key needs at least one value, e.g. [0.1, 0.01]")
    if len(set(value)) != len(value):
        raise ValueError("lists a value more than once")
    return value


# YAML scalars reach the models as the text written (`0.1`, `true`); an editor's YAML
# language server reads them as numbers and booleans, so the schema admits those.
WrittenScalar = Annotated[str, WithJsonSchema({"type": ["string", "number", "boolean"]})]
MatrixValues = Annotated[list[WrittenScalar], AfterValidator(_check_values)]
# Each key is one mapped argument of the sweep's Airflow task (operators.job.MATRIX_SLOTS).
MAX_MATRIX_KEYS = 8


def _check_matrix(value: dict[str, list[str]]) -> dict[str, list[str]]:
    if len(value) > MAX_MATRIX_KEYS:
        raise ValueError(
            f"a matrix has at most {MAX_MATRIX_KEYS} keys; it has {len(value)}: sweep fewer "
            "settings at once, or list whole configurations as the values of one key"
        )
    return value


Matrix = Annotated[
    dict[MatrixKey, MatrixValues],
    AfterValidator(_check_matrix),
    Field(json_schema_extra={"maxProperties": MAX_MATRIX_KEYS}),
]


class ResultRef(BaseModel):
    """One key of the result another task published."""

    model_config = _STRICT

    task: str = Field(description="The task that published the result.", examples=["current"])
    key: ResultKey = Field(description="The key of its `result:`.", examples=["accuracy"])


class Condition(BaseModel):
    """When a task runs: a comparison of a published key, or `all:`, `any:`, `not:` of those.

    Data, never evaluated as code."""

    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, frozen=True, populate_by_name=True
    )

    task: str | None = Field(
        default=None,
        description="Compare a key of the result of this task (one the task depends on, "
        "directly or not).",
        examples=["evaluate"],
    )
    key: ResultKey | None = Field(
        default=None,
        description="The key of the task's `result:` to compare.",
        examples=["accuracy"],
    )
    op: Operator | None = Field(
        default=None,
        description="How to compare: `==`, `!=`, `<`, `<=`, `>`, `>=` (booleans: `==`, `!=`).",
        examples=[">"],
    )
    value: WrittenScalar | None = Field(
        default=None,
        description="The value to compare with, of the key's declared type.",
        examples=["0.9"],
    )
    value_of: ResultRef | None = Field(
        default=None,
        description="Compare with another published key instead of a value.",
        examples=[{"task": "current", "key": "accuracy"}],
    )
    all: list[Condition] | None = Field(
        default=None,
        min_length=1,
        description="True when every condition of the list is.",
        examples=[[{"task": "evaluate", "key": "accuracy", "op": ">", "value": "0.9"}]],
    )
    any: list[Condition] | None = Field(
        default=None,
        min_length=1,
        description="True when at least one condition of the list is.",
    )
    not_: Condition | None = Field(
        default=None, alias="not", description="True when the condition is false."
    )

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        compare = [n for n in ("task", "key", "op") if getattr(self, n) is not None]
        right = [n for n in ("value", "value_of") if getattr(self, n) is not None]
        groups = [n for n, f in (("all", self.all), ("any", self.any), ("not", self.not_)) if f]
        example = "e.g. `{task: evaluate, key: accuracy, op: '>', value: 0.9}`"
        if groups and (compare or right or len(groups) > 1):
            raise ValueError(
                f"a condition is one of a comparison, `all:`, `any:` or `not:`; this one mixes "
                f"{', '.join([*compare, *right, *groups])}: nest them, e.g. "
                "`all: [{task: a, key: k, op: '>', value: 1}, {not: {...}}]`"
            )
        if groups:
            return self
        missing = [n for n in ("task", "key", "op") if getattr(self, n) is None]
        if missing:
            raise ValueError(
                f"the comparison has no {', '.join(missing)}; {example}"
                if compare or right
                else f"the condition is empty; {example}"
            )
        if len(right) != 1:
            raise ValueError(
                "give either `value:` (a value) or `value_of:` (another task's key) to compare "
                "with, not both"
                if right
                else f"the comparison has no `value:`; {example}"
            )
        return self

    def comparisons(
        self, path: tuple[str | int, ...] = ()
    ) -> Iterator[tuple[tuple[str | int, ...], Condition]]:
        """Every comparison inside, with its path relative to this condition."""
        if self.all or self.any:
            name = "all" if self.all else "any"
            for i, item in enumerate(self.all or self.any or []):
                yield from item.comparisons((*path, name, i))
        elif self.not_ is not None:
            yield from self.not_.comparisons((*path, "not"))
        else:
            yield path, self

    def depth(self) -> int:
        children = [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]
        return 1 + max((c.depth() for c in children), default=0)

    def tasks(self) -> set[str]:
        """The tasks whose results the condition reads."""
        found: set[str] = set()
        for _, c in self.comparisons():
            found.add(c.task or "")
            if c.value_of is not None:
                found.add(c.value_of.task)
        found.discard("")
        return found


def typed(text: str, kind: ResultType) -> Scalar:
    """A value written in a spec (text, from YAML) as ``kind``; raises ``ValueError``."""
    try:
        return parse_scalar(text, kind)
    except ParamError as exc:
        raise ValueError(str(exc)) from None


def matrix_value(text: str) -> Scalar:
    """A matrix value as ``matrix.json`` holds it: a number, a boolean or text, as written."""
    return parse_scalar(text, infer_item(text))


def combinations(matrix: Mapping[str, list[str]]) -> list[dict[str, str]]:
    """Every combination of a matrix, in the order written: the first key varies slowest."""
    keys = list(matrix)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*matrix.values())]


def combination_count(matrix: Mapping[str, list[str]]) -> int:
    count = 1
    for values in matrix.values():
        count *= len(values)
    return count


Path = tuple[str | int, ...]


def condition_problems(
    condition: Condition,
    ancestors: set[str],
    results: Mapping[str, Mapping[str, str]],
    swept: set[str],
) -> list[tuple[Path, str, str]]:
    """What is wrong with the references of ``condition`` (relative path, message, hint).

    ``ancestors``: the tasks the gated task depends on, directly or not; ``results``: each
    task's declared ``result:`` keys and types; ``swept``: the tasks with a ``matrix:``.
    """
    problems: list[tuple[Path, str, str]] = []
    if condition.depth() > MAX_DEPTH:
        return [((), f"the condition nests more than {MAX_DEPTH} levels deep", "flatten it")]
    for path, comparison in condition.comparisons():
        kinds: list[str] = []
        refs: list[tuple[Path, str, str]] = [(path, comparison.task or "", comparison.key or "")]
        if comparison.value_of is not None:
            ref = comparison.value_of
            refs.append(((*path, "value_of"), ref.task, ref.key))
        for where, task, key in refs:
            kind = _ref_problem(where, task, key, ancestors, results, swept, problems)
            if kind:
                kinds.append(kind)
        if not kinds:
            continue
        kind = kinds[0]
        if len(kinds) == 2 and kinds[1] != kind:
            problems.append(
                ((*path, "value_of"), f"compares a {kind} with a {kinds[1]}",
                 "compare keys of the same type")
            )  # fmt: skip
            continue
        if kind == "boolean" and comparison.op not in ("==", "!="):
            problems.append(
                ((*path, "op"), f"'{comparison.op}' does not order booleans",
                 "compare booleans with `==` or `!=`")
            )  # fmt: skip
        if comparison.value is not None:
            try:
                typed(comparison.value, kind)  # type: ignore[arg-type]
            except ValueError as exc:
                problems.append(
                    ((*path, "value"), f"{exc}: key '{comparison.key}' of task "
                     f"'{comparison.task}' is a {kind}", f"write a {kind}")
                )  # fmt: skip
    return problems


def _ref_problem(
    where: Path,
    task: str,
    key: str,
    ancestors: set[str],
    results: Mapping[str, Mapping[str, str]],
    swept: set[str],
    problems: list[tuple[Path, str, str]],
) -> str | None:
    """The declared type of ``task``'s ``key``, or ``None`` after adding why it cannot be read."""
    if task not in results:
        hint = did_you_mean(task, results) or f"known tasks: {', '.join(sorted(results))}"
        problems.append(((*where, "task"), f"unknown task '{task}'", hint))
        return None
    if task not in ancestors:
        problems.append(
            ((*where, "task"), f"task '{task}' is not upstream of this task, so its result "
             "is not known when this task starts", f"add '{task}' to `depends_on`")
        )  # fmt: skip
        return None
    if task in swept:
        problems.append(
            ((*where, "task"), f"task '{task}' is a sweep (`matrix:`): it has one result per "
             "combination", "gate on the task that picks the best of them")
        )  # fmt: skip
        return None
    declared = results[task]
    if key not in declared:
        if declared:
            hint = did_you_mean(key, declared) or f"its keys: {', '.join(sorted(declared))}"
        else:
            hint = (
                f"task '{task}' publishes no result: declare it, e.g. `result: {{{key}: number}}`"
            )
        problems.append(((*where, "key"), f"task '{task}' publishes no key '{key}'", hint))
        return None
    return declared[key]
