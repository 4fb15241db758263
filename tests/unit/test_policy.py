"""The bumper rails: each policy rule, and its problem located in the spec."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.config import PlatformConfig, parse_config
from airflow_platform.policy import check_job, image_allowed
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.models import JobSpec
from airflow_platform.validation import validate_data, validate_file

pytestmark = pytest.mark.unit

CONFIG = """\
teams: {vision: {}, nlp: {}, analytics: {}}
flavors:
  cpu-2gb: {cpu: "1", memory: 2Gi}
  gpu-1x: {cpu: "8", memory: 48Gi, gpu: {count: 1}, max_execution_time: 4 hours, teams: [vision]}
  open: {cpu: "1", memory: 1Gi, max_execution_time: 48 hours}
policy:
  allowed_images: ["registry.internal/", "ghcr.io/our-org/"]
  max_execution_time: 12 hours
"""


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return parse_config(CONFIG.encode(), "platform.yaml")


def _job(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "name": "train",
        "team": "vision",
        "resource_flavor": "cpu-2gb",
        "docker_image": "registry.internal/vision/train:1.4.2",
        "execution_time": "1h",
        "execution_script": "python train.py",
    }
    return JobSpec.model_validate({**fields, **overrides})


def _reasons(job: JobSpec, config: PlatformConfig) -> list[str]:
    return [v.reason for v in check_job(job, config)]


def test_a_job_within_every_rule_has_no_violations(config: PlatformConfig) -> None:
    assert check_job(_job(), config) == []


@pytest.mark.parametrize(
    "image",
    [
        "registry.internal/vision/train:1.4.2",
        "ghcr.io/our-org/tool:2",
        "registry.internal/x@sha256:" + "a" * 64,
        "registry.internal/team/app:v2-rc1",
    ],
)
def test_images_under_an_allowed_prefix_and_pinned_pass(config: PlatformConfig, image: str) -> None:
    assert _reasons(_job(docker_image=image), config) == []


@pytest.mark.parametrize(
    ("image", "reasons"),
    [
        ("docker.io/library/python:3.11", ["image_not_allowed"]),
        ("ghcr.io/other-org/tool:1", ["image_not_allowed"]),
        ("registry.internal.evil.com/x:1", ["image_not_allowed"]),
        ("registry.internal/vision/train", ["image_not_pinned"]),
        ("registry.internal/vision/train:latest", ["image_not_pinned"]),
        ("python:latest", ["image_not_allowed", "image_not_pinned"]),
    ],
)
def test_images_outside_the_prefixes_or_unpinned_are_refused(
    config: PlatformConfig, image: str, reasons: list[str]
) -> None:
    assert _reasons(_job(docker_image=image), config) == reasons


def test_unpinned_image_hint_suggests_a_version(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(docker_image="registry.internal/a/b:latest"), config)
    assert violation.message == "image 'registry.internal/a/b:latest' is not pinned (tag latest)"
    assert violation.hint == "name a version, e.g. 'registry.internal/a/b:1.0.0'"


def test_pinning_is_not_required_when_the_policy_says_so() -> None:
    relaxed = parse_config(
        CONFIG.replace(
            "  max_execution_time: 12 hours\n", "  require_pinned_images: false\n"
        ).encode(),
        "p.yaml",
    )
    assert _reasons(_job(docker_image="registry.internal/a/b:latest"), relaxed) == []


def test_unknown_team_suggests_the_closest(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(team="visoin"), config)
    assert (violation.field, violation.message, violation.hint) == (
        ("team",), "unknown team 'visoin'", "did you mean 'vision'?"
    )  # fmt: skip


def test_unknown_flavor_lists_the_catalog(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(resource_flavor="gpu-1y"), config)
    assert violation.message == "unknown flavor 'gpu-1y'; known: cpu-2gb, gpu-1x, open"
    assert violation.hint == "did you mean 'gpu-1x'?"


def test_a_flavor_name_asking_for_more_gpus_than_any_flavor_says_none_is_big_enough(
    config: PlatformConfig,
) -> None:
    # not "did you mean 'gpu-1x'", which would fail at run time for want of the second GPU
    (violation,) = check_job(_job(resource_flavor="gpu-2x"), config)
    assert violation.message == (
        "unknown flavor 'gpu-2x'; known: cpu-2gb, gpu-1x, open. No flavor is big enough for "
        "2 GPUs: the largest team vision may use is gpu-1x (8 CPU, 48Gi, 1 GPU)"
    )
    assert violation.hint.startswith("ask the platform team for a bigger flavor")


def test_flavor_not_allowed_for_team_lists_the_teams_flavors(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(team="nlp", resource_flavor="gpu-1x"), config)
    assert violation.reason == "flavor_not_allowed"
    assert violation.message == "flavor 'gpu-1x' is not available to team 'nlp' (only to vision)"
    assert violation.hint == "flavors for nlp: cpu-2gb, open"


def test_execution_time_over_the_flavor_cap_names_the_flavor(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(resource_flavor="gpu-1x", execution_time="5h"), config)
    assert violation.message == "5h is over flavor gpu-1x's limit of 4h"


def test_execution_time_at_the_flavor_cap_is_allowed(config: PlatformConfig) -> None:
    assert _reasons(_job(resource_flavor="gpu-1x", execution_time="PT4H"), config) == []


def test_execution_time_over_the_global_cap_names_the_platform(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(execution_time="13 hours"), config)
    assert violation.message == "13h is over the platform's limit of 12h"


def test_flavor_cap_above_the_global_cap_does_not_raise_it(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(resource_flavor="open", execution_time="20h"), config)
    assert violation.message == "20h is over the platform's limit of 12h"


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("registry.internal/x:1", True),
        ("registry.internal.evil.io/x:1", False),
        ("registry.internal:5000/x:1", False),
        ("ghcr.io/acme/train:1", True),
        ("ghcr.io/acme/train/gpu:1", True),
        ("ghcr.io/acme/train@sha256:" + "a" * 64, True),
        ("ghcr.io/acme/trainer:1", False),
        ("ghcr.io/acme-evil/train:1", False),
        ("quay.io/team/x:1", True),
        ("quay.io/teams/x:1", False),
    ],
)
def test_an_image_prefix_ends_at_a_registry_or_path_boundary(image: str, allowed: bool) -> None:
    """`registry.internal` is a registry, `ghcr.io/acme/train` a repository, `quay.io/team/` a
    path: none admits a longer name that merely starts with it."""
    prefixes = ["registry.internal", "ghcr.io/acme/train", "quay.io/team/"]
    assert image_allowed(image, prefixes) is allowed


def test_execution_time_under_a_second_is_refused(config: PlatformConfig) -> None:
    (violation,) = check_job(_job(execution_time="0.5s"), config)
    assert violation.message == "must be at least one second"


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "db_passwd", "AWS_SECRET", "GITHUB_TOKEN", "OPENAI_API_KEY", "MY_APIKEY",
     "AWS_ACCESS_KEY", "SSH_PRIVATE_KEY", "GCP_CREDENTIALS", "DBPASSWORD", "hf_token"],
)  # fmt: skip
def test_secret_looking_env_names_are_refused(config: PlatformConfig, name: str) -> None:
    (violation,) = check_job(_job(env={name: "x"}), config)
    assert (violation.field, violation.reason) == (("env", name), "secret_inline")
    assert f"env: {name}" in violation.hint


@pytest.mark.parametrize(
    "name",
    ["DATA_PATH", "TOKENIZERS_PARALLELISM", "MAX_TOKENS", "SECRETARY", "EPOCHS", "KEYBOARD"],
)
def test_plain_env_names_pass(config: PlatformConfig, name: str) -> None:
    assert _reasons(_job(env={name: "x"}), config) == []


def test_secret_refs_pass_and_duplicated_env_is_refused(config: PlatformConfig) -> None:
    refs = [
        {"name": "s3", "key": "access_key", "env": "AWS_ACCESS_KEY_ID"},
        {"name": "s3", "key": "secret_key", "env": "AWS_SECRET_ACCESS_KEY"},
    ]
    assert _reasons(_job(secrets=refs), config) == []
    clash = [*refs, {"name": "other", "key": "k", "env": "AWS_ACCESS_KEY_ID"}]
    (violation,) = check_job(_job(secrets=clash, env={"REGION": "eu"}), config)
    assert (violation.field, violation.reason) == (("secrets", "2", "env"), "env_conflict")


def test_secret_ref_env_clashing_with_plain_env_is_refused(config: PlatformConfig) -> None:
    refs = [{"name": "s3", "key": "region", "env": "REGION"}]
    assert _reasons(_job(secrets=refs, env={"REGION": "eu"}), config) == ["env_conflict"]


def test_every_violation_of_a_job_is_reported(config: PlatformConfig) -> None:
    job = _job(
        team="nlp",
        resource_flavor="gpu-1x",
        docker_image="docker.io/x:latest",
        execution_time="13h",
        env={"API_TOKEN": "x"},
    )
    assert _reasons(job, config) == [
        "flavor_not_allowed", "image_not_allowed", "image_not_pinned", "execution_time",
        "secret_inline",
    ]  # fmt: skip


def test_policy_problems_point_at_the_task_field_or_the_defaults(
    config: PlatformConfig, tmp_path: Path
) -> None:
    spec = tmp_path / "pipe.yaml"
    spec.write_text(
        "dag:\n"
        "  team: vision\n"
        "  defaults: {resource_flavor: gpu-1x, docker_image: docker.io/x:1, execution_time: 1h}\n"
        "tasks:\n"
        "  g:\n"
        "    a: {execution_script: run}\n"
        "    b: {execution_script: run, execution_time: 5h}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as caught:
        validate_file(spec, config)
    lines = str(caught.value).replace(str(tmp_path) + "/", "").splitlines()
    assert lines == [
        "pipe.yaml:3:53: dag.defaults.docker_image: image 'docker.io/x:1' is not from an allowed "
        "registry; use an image under 'registry.internal/' or 'ghcr.io/our-org/'",
        "pipe.yaml:7:48: tasks.g.b.execution_time: 5h is over flavor gpu-1x's limit of 4h; "
        "ask for less time, or split the job into a pipeline of shorter tasks",
    ]


def test_validate_data_applies_the_policy_to_ad_hoc_specs(config: PlatformConfig) -> None:
    data = {
        "job": {
            "team": "vision",
            "resource_flavor": "cpu-2gb",
            "docker_image": "registry.internal/a:1",
            "execution_time": "20h",
            "execution_script": "run",
        }
    }
    with pytest.raises(SpecError, match=r"adhoc:1:1: job.execution_time: 20h is over"):
        validate_data(data, "adhoc", config)
    data["job"]["execution_time"] = "1h"
    assert validate_data(data, "adhoc", config).spec.execution_time == timedelta(hours=1)


def test_env_and_secret_problems_point_where_each_entry_was_written(
    config: PlatformConfig, tmp_path: Path
) -> None:
    spec = tmp_path / "pipe.yaml"
    spec.write_text(
        "dag:\n"
        "  team: vision\n"
        "  defaults:\n"
        "    resource_flavor: cpu-2gb\n"
        "    docker_image: registry.internal/a:1\n"
        "    execution_time: 1h\n"
        "    env: {DB_PASSWORD: x}\n"
        "    secrets: [{name: s, key: k, env: SHARED_REF}]\n"
        "tasks:\n"
        "  g:\n"
        "    a: {execution_script: run, secrets: [{name: s, key: j, env: SHARED_REF}]}\n"
        "    b: {execution_script: run, env: {API_TOKEN: y}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as caught:
        validate_file(spec, config)
    assert [(p.line, p.column, p.path) for p in caught.value.problems] == [
        (7, 11, "dag.defaults.env.DB_PASSWORD"),
        (11, 65, "tasks.g.a.secrets[0].env"),
        (12, 38, "tasks.g.b.env.API_TOKEN"),
    ]


def test_unknown_team_is_not_also_reported_as_a_flavor_restriction(config: PlatformConfig) -> None:
    assert _reasons(_job(team="visoin", resource_flavor="gpu-1x"), config) == ["unknown_team"]


def test_format_and_policy_problems_of_a_job_come_in_one_error(config: PlatformConfig) -> None:
    data = {
        "job": {
            "team": "vision",
            "resource_flavor": "cpu-2gb",
            "docker_image": "docker.io/a:1",
            "execution_time": "90",
            "execution_script": "run",
            "shedule": "@daily",
        }
    }
    with pytest.raises(SpecError) as caught:
        validate_data(data, "adhoc", config)
    assert [p.path for p in caught.value.problems] == [
        "job.docker_image", "job.execution_time", "job.shedule"
    ]  # fmt: skip


def test_rules_reading_an_invalid_field_are_skipped_in_the_same_report(
    config: PlatformConfig,
) -> None:
    data = {
        "job": {"team": "vision", "resource_flavor": ["x"], "docker_image": "registry.internal/a:1"}
    }
    with pytest.raises(SpecError) as caught:
        validate_data(data, "adhoc", config)
    messages = [p.message for p in caught.value.problems]
    assert not any("flavor" in m and "unknown" in m for m in messages), messages
    assert "required field 'execution_time' is missing" in messages


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [("gpu-1", "gpu-1x"), ("cpu-2g", "cpu-2gb"), ("opn", "open")],
)
def test_unknown_flavor_suggests_one_of_the_same_family(
    config: PlatformConfig, typed: str, suggested: str
) -> None:
    (violation,) = check_job(_job(resource_flavor=typed), config)
    assert violation.hint == f"did you mean '{suggested}'?"


QUOTA_CONFIG = """\
teams:
  vision: {quota: {cpu: "16", memory: 64Gi, nvidia.com/gpu: "2"}}
  nlp: {quota: {cpu: "4"}}
  analytics: {}
flavors:
  cpu-2gb: {cpu: "1", memory: 2Gi}
  ram-128gb: {cpu: "4", memory: 128Gi}
  gpu-4x: {cpu: "8", memory: 48Gi, gpu: {count: 4}}
  cpu-8: {cpu: "8", memory: 8Gi}
policy:
  allowed_images: ["registry.internal/"]
"""


@pytest.mark.parametrize(
    ("team", "flavor", "over"),
    [
        ("vision", "ram-128gb", "memory 128Gi > 64Gi"),
        ("vision", "gpu-4x", "nvidia.com/gpu 4 > 2"),
        ("nlp", "cpu-8", "cpu 8 > 4"),
    ],
)
def test_a_flavor_over_the_teams_whole_quota_is_refused_naming_the_quota(
    team: str, flavor: str, over: str
) -> None:
    config = parse_config(QUOTA_CONFIG.encode(), "platform.yaml")
    [violation] = check_job(_job(team=team, resource_flavor=flavor), config)
    assert violation.reason == "over_team_quota"
    assert f"teams.{team}.quota: {over}" in violation.message
    assert "cpu-2gb" in violation.hint


@pytest.mark.parametrize(
    ("team", "flavor"), [("vision", "cpu-8"), ("nlp", "ram-128gb"), ("analytics", "gpu-4x")]
)
def test_a_flavor_within_the_quota_or_of_a_team_without_one_passes(team: str, flavor: str) -> None:
    # nlp's quota names only cpu; analytics has none: what a quota does not name is unbounded.
    config = parse_config(QUOTA_CONFIG.encode(), "platform.yaml")
    assert check_job(_job(team=team, resource_flavor=flavor), config) == []
