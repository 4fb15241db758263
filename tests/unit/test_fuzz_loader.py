"""Fuzzing the readers: whatever a file holds, they raise `SpecError` or succeed — nothing else.

Arbitrary bytes, arbitrary text, YAML-ish token soup, arbitrary YAML trees, and valid specs
and configs with a value or key replaced. Runs are deterministic (`derandomize=True`, no
example database) so CI sees the same examples every time; each test stays at or under 200
examples to keep the unit tier fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.pods import build_pod, pod_to_yaml
from airflow_platform.spec.durations import parse_duration
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import parse_spec_text, read_spec
from airflow_platform.spec.models import JobSpec
from airflow_platform.spec.yamlsafe import read_text
from airflow_platform.validation import (
    _with_policy,
    check_document,
    validate_data,
    validate_file,
)

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted([*(REPO / "jobs").rglob("*.yaml"), *(REPO / "tests/data/good_specs").glob("*.y*ml")])
DEFAULT_CONFIG = (REPO / "airflow_platform/data/platform.yaml").read_bytes()

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FIELD_WORDS = [
    "job", "dag", "tasks", "defaults", "name", "team", "resource_flavor", "docker_image",
    "execution_time", "execution_script", "schedule", "retries", "critical", "env", "secrets",
    "depends_on", "keep_failed_pod", "key", "flavors", "policy", "teams", "gpu", "count",
    "cpu", "memory", "allowed_images", "max_execution_time", "gpu_nodes", "label", "taint",
]  # fmt: skip
TOKENS = [
    *(f"{w}:" for w in FIELD_WORDS), "\n", "\n  ", "\n    ", "  ", " ", "- ", "[", "]", "{",
    "}", ",", ":", "&a ", "*a", "&b ", "*b", "!!python/name:os.system ", "!!str ", "!tag ",
    "<<: ", '"', "'", "#", "\t", "---\n", "...\n", "? ", "|\n", ">-\n", "%YAML 1.1\n", "~",
    "null", "no", "on", "1e3", "-1", "0x1F", "90 minutes", "PT2H", "@daily", "0 6 * * *",
    "vision", "cpu-2gb", "gpu-1x-24gb", "registry.internal/vision/train:1.4.2", "python x.py",
    "\x00", "\ufeff", "é", "\u2028", "99999999999999999999 days", "P99999999999D", "1" * 400,
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["no", "on", "1e3", "90 minutes", "PT2H", "@daily", "cpu-2gb", "vision"]),
)
keys = st.one_of(st.sampled_from(FIELD_WORDS), st.text(max_size=15))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=40,
)


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return parse_config(DEFAULT_CONFIG, "platform.yaml")


def _only_spec_error(call: Callable[[], object], file: str) -> object | None:
    """Runs ``call``; a ``SpecError`` is fine if every problem is located in ``file``."""
    try:
        return call()
    except SpecError as exc:
        error = exc
    assert error.problems
    for problem in error.problems:
        assert problem.file == file
        assert problem.line >= 1, str(problem)
        assert problem.column >= 1, str(problem)
        assert str(problem).startswith(f"{file}:{problem.line}:{problem.column}: ")
        assert problem.message
    return None


def _validate_text(text: str, config: PlatformConfig) -> None:
    # The path `validate` takes: format problems and policy problems in one report.
    doc = _only_spec_error(
        lambda: _with_policy(lambda: parse_spec_text(text, "f.yaml"), config), "f.yaml"
    )
    if doc is not None:
        for job in doc.jobs:  # type: ignore[attr-defined]
            _render(job, config)


def _render(job: JobSpec, config: PlatformConfig) -> None:
    """A valid job renders; Spark jobs' pods come from airflow_platform.spark, not build_pod."""
    if getattr(job, "spark", None) is None:
        assert pod_to_yaml(build_pod(job, config))


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_give_only_spec_errors(data: bytes, config: PlatformConfig) -> None:
    _only_spec_error(lambda: _validate_text(read_text(data, "f.yaml"), config), "f.yaml")


@FUZZ
@given(data=st.binary(max_size=200).map(lambda b: b"job:\n  team: " + b))
def test_arbitrary_bytes_inside_a_spec_give_only_spec_errors(
    data: bytes, config: PlatformConfig
) -> None:
    _only_spec_error(lambda: _validate_text(read_text(data, "f.yaml"), config), "f.yaml")


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text_gives_only_spec_errors(text: str, config: PlatformConfig) -> None:
    _validate_text(text, config)


@FUZZ
@given(text=st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_yaml_token_soup_gives_only_spec_errors(text: str, config: PlatformConfig) -> None:
    _validate_text(text, config)


@FUZZ
@given(tree=trees)
def test_arbitrary_yaml_trees_give_only_spec_errors(tree: Any, config: PlatformConfig) -> None:
    _validate_text(_dump(tree), config)


@FUZZ
@given(tree=trees.map(lambda t: {"job": t}) | trees.map(lambda t: {"dag": t, "tasks": t}))
def test_arbitrary_trees_under_spec_keys_give_only_spec_errors(
    tree: Any, config: PlatformConfig
) -> None:
    _validate_text(_dump(tree), config)


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(tree: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, dict):
        out = dict(tree)
        if not rest and action == "rename":
            out[str(value) if not isinstance(value, dict | list) else "x"] = out.pop(head)
        elif not rest and action == "delete":
            del out[head]
        else:
            out[head] = _mutate(tree[head], rest, action, value)
        return out
    items = list(tree)
    if not rest and action == "delete":
        del items[head]
    else:
        items[head] = _mutate(items[head], rest, action, value)
    return items


@st.composite
def mutated(draw: st.DrawFn, seeds: list[Any]) -> Any:
    tree = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(tree)))
        action = draw(st.sampled_from(["replace", "rename", "delete"]))
        if not path:
            action = "replace"
        tree = _mutate(tree, path, action, draw(trees if action == "replace" else keys))
    return tree


SPEC_TREES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in SEEDS]


@FUZZ
@given(tree=mutated(SPEC_TREES))
def test_mutated_valid_specs_validate_or_give_only_spec_errors(
    tree: Any, config: PlatformConfig
) -> None:
    _validate_text(_dump(tree), config)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_unmutated_seed_specs_validate_and_render(seed: Path, config: PlatformConfig) -> None:
    doc = validate_file(seed, config)
    assert doc.jobs
    for job in doc.jobs:
        _render(job, config)


durations = st.one_of(
    st.integers(min_value=1, max_value=1440).map(lambda m: f"{m} minutes"),
    st.integers(min_value=1, max_value=86400).map(lambda s: f"{s}s"),
    st.tuples(st.integers(0, 23), st.integers(1, 59)).map(lambda hm: f"{hm[0]}h{hm[1]}m"),
    st.integers(min_value=1, max_value=24).map(lambda h: f"PT{h}H"),
)
names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not any(w in n for w in ("PASS", "SECRET", "TOKEN", "KEY", "CREDENTIAL"))
)


@st.composite
def valid_jobs(draw: st.DrawFn) -> dict[str, Any]:
    team, flavors = draw(
        st.sampled_from([("vision", ["cpu-2gb", "gpu-1x-24gb", "gpu-4x-96gb", "ram-64gb"]),
                         ("nlp", ["cpu-4gb", "gpu-1x-24gb"]), ("analytics", ["cpu-16gb"])])
    )  # fmt: skip
    job: dict[str, Any] = {
        "name": draw(names),
        "team": team,
        "resource_flavor": draw(st.sampled_from(flavors)),
        "docker_image": f"registry.internal/{team}/{draw(names)}:{draw(st.integers(0, 99))}.0",
        "execution_time": draw(durations),
        "execution_script": draw(
            st.text(min_size=1, max_size=40).filter(str.strip)
            | st.lists(st.text(max_size=10), min_size=1, max_size=4)
        ),
    }
    if draw(st.booleans()):
        job["env"] = draw(st.dictionaries(env_names, st.text(max_size=20), max_size=4))
    if draw(st.booleans()):
        job["retries"] = draw(st.integers(0, 10))
    if draw(st.booleans()):
        job["schedule"] = draw(st.sampled_from(["@daily", "@hourly", "0 6 * * *", "*/5 * * * 1-5"]))
    return {"job": job}


@FUZZ
@given(spec=valid_jobs())
def test_generated_valid_jobs_validate_and_render(
    spec: dict[str, Any], config: PlatformConfig
) -> None:
    doc = check_document(parse_spec_text(_dump(spec), "f.yaml"), config)
    assert isinstance(doc.spec, JobSpec)
    assert doc.spec.name == spec["job"]["name"]
    pod = build_pod(doc.spec, config)
    assert pod.spec.active_deadline_seconds == int(doc.spec.execution_time.total_seconds())


def test_read_spec_of_a_fuzzed_file_on_disk_gives_only_spec_errors(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    for data in (
        b"\xff\xfe\x00j",
        b"job: [",
        b"\x00",
        b"job:\n  - !!binary x",
        "é".encode("latin-1"),
    ):
        path.write_bytes(data)
        _only_spec_error(lambda: read_spec(path, display_name="fuzz.yaml"), "fuzz.yaml")


def _config_only_spec_error(data: bytes) -> None:
    result = _only_spec_error(lambda: parse_config(data, "platform.yaml"), "platform.yaml")
    assert result is None or isinstance(result, PlatformConfig)


@FUZZ
@given(data=st.binary(max_size=300))
def test_config_from_arbitrary_bytes_gives_only_spec_errors(data: bytes) -> None:
    _config_only_spec_error(data)


@FUZZ
@given(text=st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_config_from_token_soup_gives_only_spec_errors(text: str) -> None:
    _config_only_spec_error(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(tree=trees)
def test_config_from_arbitrary_trees_gives_only_spec_errors(tree: Any) -> None:
    _config_only_spec_error(_dump(tree).encode())


CONFIG_TREES = [yaml.safe_load(DEFAULT_CONFIG)]


@FUZZ
@given(tree=mutated(CONFIG_TREES))
def test_mutated_default_config_parses_or_gives_only_spec_errors(tree: Any) -> None:
    _config_only_spec_error(_dump(tree).encode())


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_trees = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=40,
)


@FUZZ
@given(tree=json_trees | json_trees.map(lambda t: {"job": t}) | mutated(SPEC_TREES))
def test_ad_hoc_json_data_validates_or_gives_only_spec_errors(
    tree: Any, config: PlatformConfig
) -> None:
    _only_spec_error(lambda: validate_data(tree, "adhoc", config), "adhoc")


@pytest.mark.parametrize(
    "value",
    [10**5000, -(10**5000), float("nan"), float("inf"), True, None, [], {}, 2**63],
    ids=["huge", "-huge", "nan", "inf", "true", "none", "list", "dict", "2**63"],
)
@pytest.mark.parametrize("field", ["retries", "execution_time", "execution_script", "name", "env"])
def test_ad_hoc_json_with_extreme_values_gives_only_spec_errors(
    field: str, value: Any, config: PlatformConfig
) -> None:
    job = dict(next(t["job"] for t in SPEC_TREES if "job" in t))
    job[field] = value
    _only_spec_error(lambda: validate_data({"job": job}, "adhoc", config), "adhoc")


duration_texts = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\s*(\d{1,25}(\.\d{0,3})?\s*[a-zA-Z]{0,8}[, ]*(and )?){1,4}", fullmatch=True),
    st.from_regex(
        r"[Pp](\d{0,25}[Dd])?([Tt](\d{0,25}[Hh])?(\d{0,25}[Mm])?(\d{0,25}[Ss])?)?", fullmatch=True
    ),
)


@FUZZ
@given(text=duration_texts)
def test_parse_duration_returns_a_duration_or_raises_value_error(text: str) -> None:
    try:
        parsed = parse_duration(text)
    except ValueError as exc:
        message = str(exc)
    else:
        assert parsed.total_seconds() >= 0
        return
    assert "e.g. '90 minutes'" in message
