"""The YAML language server's `$schema` modeline: editors read it, the platform ignores it.

docs/editors.md promises that a spec starting with `# yaml-language-server: $schema=...` means
the same to `validate` as without it, that the not-a-spec mark may follow a modeline, and that
the modelines in jobs/ point at the generated schema, which accepts those specs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.spec.loader import MODELINE, read_spec, spec_files

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
MODELINE_JOBS = sorted(
    p for p in (REPO / "jobs").rglob("*.yaml") if MODELINE.fullmatch(p.read_text().split("\n")[0])
)
SPEC = (
    "job:\n  team: vision\n  resource_flavor: cpu-2gb\n"
    "  docker_image: registry.internal/vision/x:1.0\n  execution_time: 5 minutes\n"
    "  execution_script: python x.py\n"
)


def _validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    monkeypatch.delenv("AIRFLOW_PLATFORM_JOBS_DIR", raising=False)
    folder = tmp_path / "jobs" / "vision"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize(
    "modeline",
    [
        "# yaml-language-server: $schema=../../docs/spec.schema.json",
        "# yaml-language-server: $schema=https://example.com/spec.schema.json",
        "#yaml-language-server:$schema=spec.schema.json",
    ],
)
def test_a_spec_with_a_modeline_reads_the_same_as_without(team: Path, modeline: str) -> None:
    plain, marked = team / "plain.yaml", team / "marked.yaml"
    plain.write_text(SPEC)
    marked.write_text(f"{modeline}\n{SPEC}")
    assert read_spec(marked).spec.model_dump() == read_spec(plain).spec.model_dump() | {
        "name": "marked"
    }
    assert _validate(str(marked))[0] == 0


def test_problems_after_a_modeline_count_its_line(team: Path) -> None:
    spec = team / "bad.yaml"
    spec.write_text("# yaml-language-server: $schema=x.json\n" + SPEC.replace("cpu-2gb", "cpu-3gb"))
    code, stdout, _ = _validate(str(spec))
    assert code == 1
    assert stdout.startswith(f"{spec}:4:20: job.resource_flavor: unknown flavor 'cpu-3gb'")


def test_the_not_a_spec_mark_may_follow_a_modeline(team: Path) -> None:
    (team / "job.yaml").write_text(SPEC)
    (team / "prettier.yaml").write_text(
        "# yaml-language-server: $schema=https://json.schemastore.org/prettierrc.json\n"
        "# airflow-platform: not-a-spec\nprintWidth: 100\n"
    )
    (team / "late.yaml").write_text("# a comment\n# airflow-platform: not-a-spec\nx: 1\n")
    assert [p.name for p in spec_files(team.parent)] == ["job.yaml", "late.yaml"]
    code, _, stderr = _validate(str(team / "prettier.yaml"))
    assert (code, stderr) == (0, f"{team / 'prettier.yaml'}: skipped, it is marked "
                                 "`# airflow-platform: not-a-spec`\n")  # fmt: skip


def test_jobs_folder_shows_the_modeline() -> None:
    assert MODELINE_JOBS, "docs/editors.md names a spec in jobs/ that starts with a modeline"


@pytest.mark.parametrize("spec", MODELINE_JOBS, ids=lambda p: p.stem)
def test_modelines_in_jobs_point_at_the_generated_schema_which_accepts_the_spec(
    spec: Path,
) -> None:
    match = re.search(r"\$schema=(\S+)", spec.read_text().split("\n")[0])
    assert match
    schema_file = (spec.parent / match[1]).resolve()
    assert schema_file == REPO / "docs/spec.schema.json"
    # The editor's reading: YAML 1.2 types (the loader itself reads every scalar as text).
    jsonschema.validate(yaml.safe_load(spec.read_text()), json.loads(schema_file.read_text()))
