"""The reference docs and the editor schema are generated from the models and kept current."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_platform.config import CONFIG_ENV, load_config
from airflow_platform.reference import reference_markdown
from airflow_platform.schema import spec_json_schema

pytestmark = pytest.mark.unit
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_reference_page_matches_the_models() -> None:
    """docs/reference.md is what the models say today; run `make docs` after changing them."""
    assert (DOCS / "reference.md").read_text() == reference_markdown(), "run `make docs`"


def test_committed_editor_schema_matches_the_models_and_the_default_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/spec.schema.json is the `schema` command's output for the packaged default config;
    run `make docs` to refresh it."""
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert json.loads((DOCS / "spec.schema.json").read_text()) == spec_json_schema(
        config=load_config()
    ), "run `make docs`"


def test_every_spec_field_has_a_description_in_the_reference() -> None:
    """No field goes undocumented: an empty meaning cell is a missing `Field(description=...)`."""
    for line in reference_markdown().splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            assert cells[3], f"no description: {line}"


def test_the_charts_admission_rules_match_the_library() -> None:
    """charts/airflow-platform/files/admission-policy.yaml is airflow_platform.admission's
    rules; run `make docs` after changing them."""
    from airflow_platform.admission import rules_file

    committed = DOCS.parent / "charts" / "airflow-platform" / "files" / "admission-policy.yaml"
    assert committed.read_text() == rules_file(), "run `make docs`"
