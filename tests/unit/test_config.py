"""The platform config: the catalog is validated as strictly as a spec, every problem at once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airflow_platform.config import (
    CONFIG_ENV,
    PlatformConfig,
    format_memory,
    load_config,
    parse_config,
    parse_cpu,
    parse_memory,
)
from airflow_platform.spec.errors import SpecError

pytestmark = pytest.mark.unit

BASE = """\
teams:
  vision: {}
  nlp: {}
flavors:
  cpu-2gb: {cpu: "1", memory: 2Gi}
  gpu-1x: {cpu: "8", memory: 48Gi, gpu: {count: 1, product: NVIDIA-A10G}, teams: [vision]}
policy:
  allowed_images: ["registry.internal/"]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_config(text.encode(), "platform.yaml")
    return [str(p) for p in caught.value.problems]


def test_minimal_config_gets_documented_defaults() -> None:
    config = parse_config(BASE.encode(), "platform.yaml")
    assert config.policy.max_execution_time == timedelta(hours=24)
    assert config.policy.jobs_namespace == "airflow-jobs"
    assert config.policy.require_pinned_images is True
    assert config.gpu_nodes.label == "nvidia.com/gpu.present"
    assert config.gpu_nodes.taint == "nvidia.com/gpu"
    gpu = config.flavors["gpu-1x"].gpu
    assert gpu is not None
    assert (gpu.count, gpu.resource, gpu.product) == (1, "nvidia.com/gpu", "NVIDIA-A10G")
    assert config.flavors["cpu-2gb"].teams is None
    assert config.flavor_names() == ["cpu-2gb", "gpu-1x"]


@pytest.mark.parametrize(
    ("memory", "suggestion"),
    [("16GB", "16Gi"), ("16gb", "16Gi"), ("512MB", "512Mi"), ("2 G", "2Gi"), ("1TB", "1Ti")],
)
def test_memory_in_bytes_units_suggests_the_kubernetes_form(memory: str, suggestion: str) -> None:
    (problem,) = _problems(BASE.replace("memory: 2Gi", f"memory: {memory}"))
    assert problem == (
        f"platform.yaml:5:31: flavors.cpu-2gb.memory: '{memory}' is not a Kubernetes quantity: "
        f"did you mean {suggestion}?"
    )


def test_memory_without_a_unit_under_a_mebibyte_suggests_gibibytes() -> None:
    (problem,) = _problems(BASE.replace("memory: 2Gi", "memory: 16"))
    assert problem.endswith("flavors.cpu-2gb.memory: memory '16' is under 1Mi: did you mean 16Gi?")


@pytest.mark.parametrize(
    ("memory", "message"),
    [("-2Gi", "memory '-2Gi' is negative"), ("lots", "'lots' is not a memory quantity")],
)
def test_bad_memory_is_explained(memory: str, message: str) -> None:
    (problem,) = _problems(BASE.replace("memory: 2Gi", f"memory: {memory}"))
    assert message in problem


@pytest.mark.parametrize(
    ("cpu", "message"),
    [
        ('"-1"', "CPU '-1' is negative"),
        ('"0"', "CPU '0' must be more than zero"),
        ("four", "'four' is not a CPU quantity"),
        ("1Gi", "'1Gi' is not a CPU quantity"),
    ],
)
def test_bad_cpu_is_explained(cpu: str, message: str) -> None:
    (problem,) = _problems(BASE.replace('cpu: "1"', f"cpu: {cpu}"))
    assert problem.startswith("platform.yaml:5:18: flavors.cpu-2gb.cpu: ")
    assert message in problem


def test_gpu_flavor_without_a_count_is_an_error() -> None:
    (problem,) = _problems(BASE.replace("count: 1, ", ""))
    assert problem == (
        "platform.yaml:6:36: flavors.gpu-1x.gpu: required field 'count' is missing; add `count: 1`"
    )


@pytest.mark.parametrize("count", ["0", "17", "two"])
def test_gpu_count_out_of_range_is_an_error(count: str) -> None:
    (problem,) = _problems(BASE.replace("count: 1", f"count: {count}"))
    assert problem.startswith("platform.yaml:6:49: flavors.gpu-1x.gpu.count: ")


def test_unknown_team_in_a_flavor_suggests_the_closest_team() -> None:
    (problem,) = _problems(BASE.replace("teams: [vision]", "teams: [nlp, visoin]"))
    assert problem == (
        "platform.yaml:6:88: flavors.gpu-1x.teams[1]: unknown team 'visoin'; did you mean 'vision'?"
    )


def test_unknown_team_is_reported_together_with_other_problems() -> None:
    text = BASE.replace("teams: [vision]", "teams: [zzz]").replace("memory: 2Gi", "memory: 2GB")
    problems = _problems(text)
    assert len(problems) == 2
    assert "flavors.cpu-2gb.memory: '2GB' is not a Kubernetes quantity" in problems[0]
    assert "flavors.gpu-1x.teams[0]: unknown team 'zzz'; known teams: vision, nlp" in problems[1]


def test_config_built_in_code_with_an_unknown_team_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown team 'ghost'"):
        PlatformConfig.model_validate(
            {
                "teams": {"vision": {}},
                "flavors": {"a": {"cpu": "1", "memory": "1Gi", "teams": ["ghost"]}},
                "policy": {"allowed_images": ["r/"]},
            }
        )


@pytest.mark.parametrize(
    ("replace", "by", "problem"),
    [
        ("policy:\n", "policy:\n  colour: blue\n", "policy.colour: unknown key 'colour'"),
        ('cpu: "1"', 'cpu: "1", memroy: 1Gi', "did you mean 'memory'?"),
        ("teams:\n", "teamz: {}\nteams:\n", "teamz: unknown key 'teamz'; did you mean 'teams'?"),
        ("gpu_nodes", "gpu_nodes", ""),
    ],
)
def test_unknown_config_keys_are_errors(replace: str, by: str, problem: str) -> None:
    text = BASE.replace(replace, by)
    if not problem:
        text += "gpu_nodes: {label: a, taint: b, tiant: c}\n"
        problem = "gpu_nodes.tiant: unknown key 'tiant'; did you mean 'taint'?"
    assert any(problem in p for p in _problems(text))


def test_missing_sections_are_each_reported() -> None:
    problems = _problems("teams: {vision: {}}\n")
    assert [p.split("; ")[0] for p in problems] == [
        "platform.yaml:1:1: required field 'flavors' is missing",
        "platform.yaml:1:1: required field 'policy' is missing",
    ]


def test_empty_allowed_images_is_an_error() -> None:
    problems = _problems(BASE.replace('["registry.internal/"]', "[]"))
    assert problems == [
        "platform.yaml:8:19: policy.allowed_images: must not be empty; e.g. [registry.internal/]"
    ]


def test_config_yaml_is_read_as_safely_as_a_spec() -> None:
    (problem,) = _problems(BASE + "extra: !!python/name:os.system\n")
    assert "YAML tag '!!python/name:os.system' is not allowed" in problem


def test_packaged_default_config_is_valid_and_has_the_documented_flavors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    config = load_config()
    assert {"cpu-2gb", "cpu-16gb", "ram-64gb", "gpu-1x-24gb"} <= set(config.flavors)
    gpu = config.flavors["gpu-1x-24gb"]
    assert gpu.gpu is not None
    assert (gpu.cpu, gpu.memory, gpu.gpu.count, gpu.gpu.product) == ("8", "48Gi", 1, "NVIDIA-A10G")
    assert gpu.teams == ["vision", "nlp"]
    assert config.policy.allowed_images == ["registry.internal/"]


def test_config_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(BASE, encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config().flavor_names() == ["cpu-2gb", "gpu-1x"]


def test_explicit_path_wins_over_the_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = tmp_path / "chosen.yaml"
    chosen.write_text(BASE.replace("cpu-2gb", "cpu-1gb"), encoding="utf-8")
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.yaml"))
    assert load_config(chosen).flavor_names() == ["cpu-1gb", "gpu-1x"]


def test_changed_config_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert "cpu-2gb" in load_config(path).flavors
    path.write_text(BASE.replace("cpu-2gb", "cpu-small") + "# changed\n", encoding="utf-8")
    assert "cpu-small" in load_config(path).flavors


def test_missing_config_file_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "nope.yaml"))
    with pytest.raises(SpecError, match=r"cannot read the platform config: No such file"):
        load_config()


@pytest.mark.parametrize(
    ("quantity", "cores"), [("1", 1.0), ("0.5", 0.5), ("500m", 0.5), ("32", 32.0)]
)
def test_parse_cpu_reads_cores_and_millicores(quantity: str, cores: float) -> None:
    assert parse_cpu(quantity) == cores


@pytest.mark.parametrize(
    ("quantity", "num_bytes"),
    [("2Gi", 2 * 2**30), ("512Mi", 512 * 2**20), ("1G", 10**9), ("100", 100), ("1.5Gi", 3 * 2**29)],
)
def test_parse_memory_reads_binary_and_decimal_units(quantity: str, num_bytes: int) -> None:
    assert parse_memory(quantity) == num_bytes


@pytest.mark.parametrize(
    ("num_bytes", "text"),
    [(2 * 2**30, "2Gi"), (3 * 2**29, "1.5Gi"), (512 * 2**20, "512Mi"), (2048, "2Ki"), (10, "10B")],
)
def test_format_memory_uses_the_largest_binary_unit(num_bytes: int, text: str) -> None:
    assert format_memory(num_bytes) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "platform.yaml:1:1: file is empty"),
        ("# nothing\n", "platform.yaml:1:1: file is empty"),
        ("- a\n", "platform.yaml:1:1: the document is a list, not a mapping"),
        ("hello\n", "platform.yaml:1:1: the document is the text 'hello', not a mapping"),
    ],
)
def test_config_that_is_not_a_mapping_says_what_a_config_holds(text: str, message: str) -> None:
    assert _problems(text) == [
        f"{message}; a platform config is a mapping with `teams:`, `flavors:` and `policy:`"
    ]
