"""Secrets written into a spec, found by value and by name, with few false alarms; the
platform's own variable names reserved; no detected value ever echoed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from airflow_platform import inline_secrets
from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig
from airflow_platform.pods import build_pod
from airflow_platform.policy import check_job
from airflow_platform.spec.models import PLATFORM_ENV_NAMES, JobSpec, platform_env

pytestmark = pytest.mark.unit

# Made-up values in the shapes of real secrets (none of them works anywhere).
SECRET_VALUES = {
    "a URL with a password": "postgresql://trainer:Tr0ub4dor3@db.internal:5432/features",
    "a GitHub Token": "ghp_R3a1lyL0ngT0kenValueF0rTest1ngOnly12",
    "an AWS Access Key": "AKIAQ3EXAMPLEKEY7Z2Q",
    "a Slack Token": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "a JSON Web Token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "a Private Key": "-----BEGIN OPENSSH PRIVATE KEY-----",
    "a random-looking key": "q8Xz2LmN4vB7kP9sT1wR6yH3jF5dC0aE",
}

NOT_SECRETS = {
    "DATA_PATH": "s3://bucket/train",
    "SECRET_NAME": "s3-creds",
    "PASSWORD_FILE": "/run/secrets/db-password",
    "TOKEN_URL": "https://auth.example.internal/oauth/token",
    "DB_PASSWORD": "$DB_PASSWORD_FROM_SECRET",
    "TOKENIZERS_PARALLELISM": "false",
    "MAX_TOKENS": "512",
    "TOKEN_LIMIT": "100",
    "MODEL": "meta-llama/Llama-3.1-8B-Instruct",
    "HF_MODEL": "HuggingFaceH4/zephyr-7b-beta",
    "RUN_UUID": "550e8400-e29b-41d4-a716-446655440000",
    "GIT_COMMIT": "3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "MODEL_SHA256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "CHECKPOINT": "ResNet50-ImageNet1k-Finetune-2024",
    "API_BASE": "https://api.example.internal/v2",
    "IMAGE": "registry.internal/vision/train:1.4.2",
    "LR": "0.001",
    "AUTH_MODE": "kerberos",
    "DATES": "2024-01-01,2024-02-01",
}

SECRET_SCRIPTS = {
    "curl -fsS https://bob:pa55w0rd@api.example.internal/data -o data.json": "a URL with a password",
    "python load.py --db-password Tr0ub4dor3": "--db-password",
    "DB_PASSWORD=Tr0ub4dor3 python load.py": "DB_PASSWORD",
    "export GITHUB_TOKEN=ghp_R3a1lyL0ngT0kenValueF0rTest1ngOnly12 && git pull": "GitHub",
}

PLAIN_SCRIPTS = [
    "python train.py --epochs 10",
    "python -m norm.fit",
    "git checkout 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39 && make",
    "python load.py --password-file /run/secrets/pw",
    "python count_tokens.py --max-tokens 512 --token-limit 100",
    "psql \"$DATABASE_URL\" -c 'select 1'",
    "python x.py --secret-name s3-creds",
    'python x.py --api-key "$API_KEY"',
]


def _job(**fields: Any) -> JobSpec:
    base: dict[str, Any] = {
        "name": "train",
        "team": "vision",
        "resource_flavor": "cpu-2gb",
        "docker_image": "registry.internal/vision/train:1.4.2",
        "execution_time": "1h",
        "execution_script": "python train.py",
    }
    return JobSpec.model_validate({**base, **fields})


@pytest.mark.parametrize(("kind", "value"), SECRET_VALUES.items(), ids=list(SECRET_VALUES))
def test_secret_values_are_found_whatever_their_names(kind: str, value: str) -> None:
    assert inline_secrets.in_env("SOMETHING", value) == f"holds {kind}"


@pytest.mark.parametrize(("name", "value"), NOT_SECRETS.items(), ids=list(NOT_SECRETS))
def test_plain_values_are_not_secrets(name: str, value: str) -> None:
    assert inline_secrets.in_env(name, value) is None


@pytest.mark.parametrize(("script", "says"), SECRET_SCRIPTS.items())
def test_secrets_in_the_script_are_found(script: str, says: str) -> None:
    found = inline_secrets.in_script(script)
    assert found is not None
    assert says in found


@pytest.mark.parametrize("script", PLAIN_SCRIPTS)
def test_plain_scripts_are_not_secrets(script: str) -> None:
    assert inline_secrets.in_script(script) is None


def test_an_exec_form_script_is_checked_word_by_word() -> None:
    assert inline_secrets.in_script(["python", "x.py", "--token", "Zk8Qm2Lp9Xv4Tn7R"]) == (
        "passes a value to --token"
    )


def test_the_example_jobs_and_good_specs_raise_no_false_alarm(
    default_config: PlatformConfig,
) -> None:
    """Every spec in the repository's examples is free of inline-secret problems."""
    from airflow_platform.validation import validate_file

    root = Path(__file__).resolve().parents[2]
    for path in sorted(
        [*(root / "jobs").rglob("*.yaml"), *(root / "tests/data/good_specs").glob("*.y*ml")]
    ):
        validate_file(path, default_config)


def test_not_secrets_skips_the_listed_keys_and_the_script(default_config: PlatformConfig) -> None:
    job = _job(
        env={"SNAPSHOT": "q8Xz2LmN4vB7kP9sT1wR6yH3jF5dC0aE"},
        execution_script="python x.py --token Zk8Qm2Lp9Xv4Tn7R",
    )
    assert [v.field for v in check_job(job, default_config)] == [
        ("env", "SNAPSHOT"),
        ("execution_script",),
    ]
    opted_out = job.model_copy(update={"not_secrets": ["SNAPSHOT", "execution_script"]})
    assert check_job(opted_out, default_config) == []


def test_spark_arguments_are_checked_like_a_script(default_config: PlatformConfig) -> None:
    job = _job(
        team="analytics",
        execution_script=None,
        spark={
            "application": "etl.py",
            "executor_flavor": "cpu-4gb",
            "executors": 2,
            "arguments": ["--jdbc", "postgresql://etl:Tr0ub4dor3@db:5432/x"],
        },
    )
    (violation,) = check_job(job, default_config)
    assert (violation.field, violation.reason) == (("spark", "arguments"), "secret_inline")


def test_no_detected_value_is_ever_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate` names the variable and the kind of secret, never the value itself."""
    spec = tmp_path / "spec.yaml"
    env = "\n".join(f"    V{i}: '{value}'" for i, value in enumerate(SECRET_VALUES.values()))
    script = next(iter(SECRET_SCRIPTS))
    spec.write_text(
        "job:\n  team: vision\n  resource_flavor: cpu-2gb\n"
        "  docker_image: registry.internal/vision/train:1.4.2\n  execution_time: 5m\n"
        f"  execution_script: {script}\n  env:\n{env}\n"
    )
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    for output, copies in (("text", 1), ("json", 2)):  # json: the message and the whole text
        result = CliRunner().invoke(app, ["validate", "--format", output, str(spec)])
        assert result.exit_code == 1
        shown = result.stdout + result.stderr
        found = shown.count("a secret must not be written into the spec")
        assert found == (len(SECRET_VALUES) + 1) * copies
        for value in [*SECRET_VALUES.values(), "pa55w0rd", "Tr0ub4dor3"]:
            assert value not in shown
            assert value[4:14] not in shown


@pytest.mark.parametrize(
    "name", ["AIRFLOW_PLATFORM_TEAM", "AIRFLOW_PLATFORM_ANYTHING_NEW", *PLATFORM_ENV_NAMES]
)
def test_the_platforms_own_variables_are_refused_in_env_and_secrets(
    name: str, default_config: PlatformConfig
) -> None:
    """The message lists every name the platform keeps for itself."""
    in_env = check_job(_job(env={name: "x"}), default_config)
    in_secrets = check_job(_job(secrets=[{"name": "s", "key": "k", "env": name}]), default_config)
    for (violation,) in (in_env, in_secrets):
        assert violation.reason == "env_reserved"
        assert violation.message == f"'{name}' is one of the platform's own variables"
        assert "every AIRFLOW_PLATFORM_* variable and KRB5CCNAME, KRB5_CONFIG" in violation.hint


def test_every_variable_the_pod_builder_sets_is_reserved(default_config: PlatformConfig) -> None:
    """Whatever build_pod puts in the job container by itself (Kerberos included) is a name a
    spec cannot set, so a pod never holds a variable twice."""
    pod = build_pod(_job(team="analytics", kerberos=True), default_config)
    names = [e.name for e in pod.spec.containers[0].env]
    assert "KRB5CCNAME" in names
    assert [n for n in names if not platform_env(n)] == []


# --- the gate in front of detect-secrets (imported only when a text could hold a format) ---


def _format_plugins() -> list[Any]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    return sorted(
        (
            plugin
            for plugin in get_mapping_from_secret_type_to_class().values()
            if plugin.__name__ not in inline_secrets._NOT_FORMATS
        ),
        key=lambda plugin: plugin.__name__,
    )


def test_the_gate_lists_exactly_the_format_detectors_of_the_installed_detect_secrets() -> None:
    assert [p.__name__ for p in _format_plugins()] == sorted(inline_secrets.GATED_FORMATS)


def test_the_cheap_charsets_are_detect_secrets_own() -> None:
    from detect_secrets.plugins.high_entropy_strings import (
        Base64HighEntropyString,
        HexHighEntropyString,
    )

    assert frozenset(Base64HighEntropyString().charset) == inline_secrets.BASE64_CHARS
    assert frozenset(HexHighEntropyString().charset) == inline_secrets.HEX_CHARS


@pytest.mark.parametrize(
    "pattern",
    [pattern for plugin in _format_plugins() for pattern in plugin().denylist],
    ids=lambda pattern: pattern.pattern[:40],
)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_text_a_format_detector_matches_passes_the_gate(
    pattern: re.Pattern[str], data: st.DataObject
) -> None:
    text = data.draw(st.from_regex(pattern))
    assert inline_secrets._MAY_HOLD_FORMAT.search(text), text


@pytest.mark.parametrize("kind", sorted(SECRET_VALUES))
def test_each_known_secret_passes_the_gate(kind: str) -> None:
    value = SECRET_VALUES[kind]
    if kind != "a random-looking key":
        assert inline_secrets._MAY_HOLD_FORMAT.search(value)


def test_an_ordinary_command_does_not_load_detect_secrets() -> None:
    code = (
        "import sys; from airflow_platform import inline_secrets as s; "
        "assert s.in_script('python -m norm.compile --wells plate_01.csv') is None; "
        "assert s.in_env('DATA_PATH', '/data/train') is None; "
        "print('detect_secrets' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
