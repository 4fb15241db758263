"""The `airflow-platform` command: exit codes, JSON output, render, flavors, schema, help.

Commands run in-process through typer's `CliRunner` (the real app, the packaged default
config unless a test passes --config). One test runs the installed console script to prove
the entry point and the process exit status.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.main import get_command
from typer.testing import CliRunner, Result

from airflow_platform.cli import app

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
JOBS = sorted((REPO / "jobs").rglob("*.yaml"))
# The documented examples. (Other good specs use plain numbers as env values or exec-form
# items, which the loader reads as text but the schema, typed `string`, flags.)
SCHEMA_EXAMPLES = JOBS + sorted((REPO / "tests/data/good_specs").glob("architecture_*.yaml"))


@pytest.fixture(autouse=True)
def _repo_root_and_default_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def test_validate_exits_0_when_every_file_is_valid() -> None:
    result = _run("validate", "jobs/")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"{len(JOBS)} files checked: all valid\n"


def test_validate_exits_1_and_reports_every_invalid_file_among_valid_ones() -> None:
    result = _run(
        "validate",
        "jobs/nlp/count-tokens.yaml",
        "tests/data/bad_specs/job_unknown_team.yaml",
        "tests/data/bad_specs/multiple_policy_errors_in_one_file.yaml",
    )
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 6
    assert result.stderr == "3 files checked: 2 invalid, 6 problem(s)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "no/such/path.yaml"], "error: no/such/path.yaml: no such file or folder"),
        (["validate", "airflow_platform/runners"], "error: no *.yaml or *.yml spec files under"),
        (["validate", "--format", "xml", "jobs/"], "Invalid value for '--format'"),
        (["validate"], "Missing argument"),
        (["render", "no/such.yaml"], "error: no/such.yaml: no such file"),
        (["run", "jobs/nlp/count-tokens.yaml"], "error: `run` needs --local"),
        (
            ["render", "--task", "nope", "jobs/analytics/strain-normalization.yaml"],
            "error: no task 'nope'",
        ),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_broken_platform_config_is_a_usage_error_naming_its_problem(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text(
        "teams: {a: {}}\nflavors: {x: {cpu: '1', memory: 16GB}}\npolicy: {allowed_images: [r/]}\n",
        encoding="utf-8",
    )
    result = _run("validate", "--config", str(config), "jobs/")
    assert result.exit_code == 2
    assert "invalid platform config" in result.stderr
    assert (
        f"{config}:2:33: flavors.x.memory: '16GB' is not a Kubernetes quantity: did you mean 16Gi?"
        in result.stderr
    )


def test_validate_uses_the_given_config(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text(
        "teams: {nlp: {}}\nflavors: {cpu-2gb: {cpu: '1', memory: 2Gi, max_execution_time: 5m}}\n"
        "policy: {allowed_images: [registry.internal/]}\n",
        encoding="utf-8",
    )
    result = _run("validate", "--config", str(config), "jobs/nlp/count-tokens.yaml")
    assert result.exit_code == 1
    assert result.stdout == (
        "jobs/nlp/count-tokens.yaml:6:19: job.execution_time: 10m is over flavor cpu-2gb's limit "
        "of 5m; ask for less time, or split the job into a pipeline of shorter tasks\n"
    )


def test_validate_json_lists_every_file_with_structured_problems() -> None:
    result = _run(
        "validate",
        "--format",
        "json",
        "jobs/analytics/strain-normalization.yaml",
        "tests/data/bad_specs/job_unknown_team.yaml",
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report == {
        "valid": False,
        "files": [
            {
                "file": "jobs/analytics/strain-normalization.yaml",
                "valid": True,
                "kind": "pipeline",
                "problems": [],
            },
            {
                "file": "tests/data/bad_specs/job_unknown_team.yaml",
                "valid": False,
                "problems": [
                    {
                        "file": "tests/data/bad_specs/job_unknown_team.yaml",
                        "line": 2,
                        "column": 9,
                        "path": "job.team",
                        "message": "unknown team 'visoin'",
                        "hint": "did you mean 'vision'?",
                        "text": "tests/data/bad_specs/job_unknown_team.yaml:2:9: job.team: "
                        "unknown team 'visoin'; did you mean 'vision'?",
                    }
                ],
            },
        ],
    }


def test_validate_json_of_valid_files_is_valid_true() -> None:
    result = _run("validate", "--format", "json", "jobs/")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert {f["kind"] for f in report["files"]} == {"job", "pipeline"}


def test_render_of_a_job_prints_one_pod() -> None:
    result = _run("render", "jobs/vision/train-classifier.yaml")
    assert result.exit_code == 0
    pod = yaml.safe_load(result.stdout)
    assert pod["kind"] == "Pod"
    assert pod["metadata"]["name"] == "train-classifier"
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_render_of_a_pipeline_prints_one_pod_per_task_in_dependency_order() -> None:
    result = _run("render", "jobs/analytics/strain-normalization.yaml")
    assert result.exit_code == 0
    pods = list(yaml.safe_load_all(result.stdout))
    assert [p["metadata"]["labels"]["airflow-platform/task"] for p in pods] == [
        "ingest.compile_data", "ingest.detect_failures", "model.fit_model",
        "calls.call_improved_strains", "calls.invalidate_prior_data", "publish.report",
    ]  # fmt: skip
    assert {p["metadata"]["labels"]["airflow-platform/dag"] for p in pods} == {
        "strain-normalization"
    }
    assert [p["metadata"]["labels"]["airflow-platform/flavor"] for p in pods] == [
        "cpu-4gb", "cpu-4gb", "cpu-16gb", "cpu-4gb", "cpu-4gb", "cpu-4gb"
    ]  # fmt: skip
    assert [line for line in result.stdout.splitlines() if line.startswith("# task ")] == [
        "# task ingest.compile_data", "# task ingest.detect_failures", "# task model.fit_model",
        "# task calls.call_improved_strains", "# task calls.invalidate_prior_data",
        "# task publish.report",
    ]  # fmt: skip


def test_render_one_task_of_a_pipeline() -> None:
    result = _run("render", "--task", "fit_model", "jobs/analytics/strain-normalization.yaml")
    assert result.exit_code == 0
    (pod,) = yaml.safe_load_all(result.stdout)
    assert pod["spec"]["activeDeadlineSeconds"] == 7200


def test_render_of_an_invalid_spec_exits_1_with_its_problems() -> None:
    result = _run("render", "tests/data/bad_specs/job_unknown_team.yaml")
    assert result.exit_code == 1
    assert "job.team: unknown team 'visoin'" in result.stderr
    assert result.stdout == ""


def test_flavors_table_shows_cpu_memory_gpu_max_time_start_up_and_teams() -> None:
    result = _run("flavors")
    assert result.exit_code == 0
    rows = {
        cells[0]: cells[1:]
        for line in result.stdout.splitlines()
        if len(cells := [c.strip() for c in line.replace("┃", "│").strip("│ ").split("│")]) == 8
    }
    assert rows["flavor"][:6] == ["cpu", "memory", "gpu", "max time", "start-up", "teams"]
    assert rows["cpu-2gb"][:6] == ["1", "2Gi", "-", "24h", "10m", "all"]
    assert rows["ram-64gb"][:6] == ["4", "64Gi", "-", "24h", "10m", "all"]
    assert rows["gpu-1x-24gb"][:6] == ["8", "48Gi", "1× NVIDIA-A10G", "24h", "20m", "vision, nlp"]
    assert rows["gpu-4x-96gb"][:6] == ["32", "192Gi", "4× NVIDIA-A10G", "24h", "30m", "vision"]


def test_flavors_piped_into_a_narrow_width_keeps_every_row_on_one_line() -> None:
    result = CliRunner().invoke(app, ["flavors"], env={"COLUMNS": "40"})
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "gpu-4x-96gb" in line)
    assert "4× NVIDIA-A10G" in row
    assert "Four 24 GB GPUs on one node" in row


def test_flavors_json_lists_teams_and_start_up_allowances() -> None:
    result = _run("flavors", "--format", "json")
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    gpu = rows["gpu-1x-24gb"]
    assert (gpu["teams"], gpu["all_teams"]) == (["vision", "nlp"], False)
    assert (gpu["startup_allowance"], gpu["startup_allowance_seconds"]) == ("20m", 1200)
    assert gpu["gpu"] == {"count": 1, "resource": "nvidia.com/gpu", "product": "NVIDIA-A10G"}
    assert rows["cpu-2gb"]["all_teams"] is True
    assert rows["cpu-2gb"]["gpu"] is None
    assert rows["cpu-2gb"]["max_time_seconds"] == 86400


def _schema(kind: str = "all") -> dict[str, Any]:
    result = _run("schema", "--kind", kind)
    assert result.exit_code == 0
    schema: dict[str, Any] = json.loads(result.stdout)
    return schema


@pytest.mark.parametrize("kind", ["all", "job", "pipeline"])
def test_schema_is_a_valid_draft_2020_12_json_schema(kind: str) -> None:
    schema = _schema(kind)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_examples_include_the_architecture_examples() -> None:
    names = {p.name for p in SCHEMA_EXAMPLES}
    assert {"architecture_job.yaml", "architecture_pipeline.yaml"} <= names


@pytest.mark.parametrize("spec", SCHEMA_EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_schema_accepts_the_example_specs(spec: Path) -> None:
    jsonschema.Draft202012Validator(_schema()).validate(yaml.safe_load(spec.read_text()))


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("job", {"job": {"team": "vision", "resourse_flavor": "cpu-2gb"}}),
        ("all", {"job": {"name": "x", "team": "vision", "resource_flavor": "cpu-2gb",
                         "docker_image": "registry.internal/a:1", "execution_time": "1h",
                         "execution_script": "run", "shedule": "@daily"}}),
        ("pipeline", {"dag": {"team": "a", "shedule": "@daily"}, "tasks": {"g": {"t": {}}}}),
        ("pipeline", {"dag": {"team": "a"}, "tasks": {"g": {"t": {"depend_on": []}}}}),
        ("all", {"jobs": {}}),
    ],
)  # fmt: skip
def test_schema_rejects_unknown_keys(kind: str, document: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_schema(kind)).validate(document)


def test_schema_carries_field_descriptions_and_examples() -> None:
    text = json.dumps(_schema("job"))
    assert "a flavor from the platform's catalog" in text.lower()
    assert '"90 minutes"' in text


COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_shows_an_example(command: str) -> None:
    result = _run(command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.stdout


def test_top_level_help_lists_the_commands() -> None:
    result = _run("--help")
    assert result.exit_code == 0
    for command in ("validate", "render", "flavors", "run", "schema"):
        assert command in result.stdout


def test_installed_console_script_exits_with_the_validation_status() -> None:
    script = Path(sys.executable).parent / "airflow-platform"
    done = subprocess.run(
        [script, "validate", "tests/data/bad_specs/job_unknown_team.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("tests/data/bad_specs/job_unknown_team.yaml:2:9: job.team:")


def test_a_yaml_file_marked_not_a_spec_is_skipped_by_folder_scans_and_by_name(
    tmp_path: Path,
) -> None:
    team = tmp_path / "jobs" / "genomics"
    team.mkdir(parents=True)
    (team / "hparams.yaml").write_text(
        "# airflow-platform: not-a-spec\nlearning_rate: 0.01\nlayers: [64, 32]\n",
        encoding="utf-8",
    )
    folder = _run("validate", str(tmp_path / "jobs"))
    assert folder.exit_code == 2  # the marked file was the only YAML file: nothing to check
    named = _run("validate", str(team / "hparams.yaml"))
    assert named.exit_code == 0
    assert "skipped, it is marked `# airflow-platform: not-a-spec`" in named.stderr


def test_an_unmarked_file_with_a_misspelt_top_level_key_is_still_an_error(
    tmp_path: Path,
) -> None:
    team = tmp_path / "jobs" / "genomics"
    team.mkdir(parents=True)
    (team / "align.yaml").write_text(
        "jbo:\n  resource_flavor: cpu-2gb\n  docker_image: registry.internal/g/a:1\n"
        "  execution_time: 1m\n  execution_script: echo\n",
        encoding="utf-8",
    )
    (team / "hparams.yaml").write_text("learning_rate: 0.01\n", encoding="utf-8")
    result = _run("validate", str(tmp_path / "jobs"))
    assert result.exit_code == 1
    assert "align.yaml:1:1: jbo: unknown key 'jbo' at the top of the file; did you mean 'job'?" in (
        result.stdout
    )
    assert "starts with the line `# airflow-platform: not-a-spec`" in result.stdout


def test_queues_lists_each_teams_quota_and_says_when_kueue_is_off(tmp_path: Path) -> None:
    config = tmp_path / "platform.yaml"
    config.write_text(
        "teams: {vision: {quota: {cpu: '64', memory: 256Gi}}, nlp: {}}\n"
        "flavors: {cpu-2gb: {cpu: '1', memory: 2Gi}}\n"
        "policy: {allowed_images: ['registry.internal/']}\n"
    )
    result = _run("queues", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "vision (airflow-jobs-vision): quota cpu 64, memory 256Gi" in result.output
    assert "nlp (airflow-jobs-nlp): quota none" in result.output
    assert "Kueue is off" in result.output
