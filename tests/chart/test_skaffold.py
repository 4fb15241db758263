"""skaffold.yaml: builds every image under images/ and the example job image, and deploys the
chart, in dev and CI."""

from __future__ import annotations

import pytest
import yaml

from tests.chart.render import CHART_DIR, render_chart
from tests.harness.tools import REPO_ROOT

pytestmark = pytest.mark.chart

CONFIG = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())


def _sanitized(image: str) -> str:
    """How skaffold names an image in its template variables."""
    return "".join(ch if ch.isalnum() else "_" for ch in image)


def test_every_image_is_built_from_its_dockerfile() -> None:
    """One artifact per Dockerfile under images/, and the example pipeline's job image, each
    pointing at a file that exists."""
    artifacts = CONFIG["build"]["artifacts"]
    built = set()
    for artifact in artifacts:
        context = REPO_ROOT / artifact.get("context", ".")
        dockerfile = context / artifact.get("docker", {}).get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), artifact
        built.add(dockerfile.resolve())
    example = REPO_ROOT / "jobs" / "analytics" / "norm" / "Dockerfile"
    platform = {p.resolve() for p in (REPO_ROOT / "images").glob("*/Dockerfile")}
    assert built == platform | {example.resolve()}


def test_release_deploys_the_chart_with_the_built_platform_image() -> None:
    """The Helm release uses this chart, the dev values file, and the image skaffold built."""
    (release,) = CONFIG["manifests"]["helm"]["releases"]
    assert (REPO_ROOT / release["chartPath"]).resolve() == CHART_DIR.resolve()
    assert [REPO_ROOT / f for f in release["valuesFiles"]] == [CHART_DIR / "values-dev.yaml"]
    platform_image = next(
        a["image"]
        for a in CONFIG["build"]["artifacts"]
        if a.get("docker", {}).get("dockerfile") == "images/airflow/Dockerfile"
    )
    templates = release["setValueTemplates"]
    assert (
        templates["images.airflow.repository"]
        == f"{{{{.IMAGE_REPO_{_sanitized(platform_image)}}}}}"
    )
    assert templates["images.airflow.tag"] == f"{{{{.IMAGE_TAG_{_sanitized(platform_image)}}}}}"


def test_dev_and_ci_profiles_exist() -> None:
    """`skaffold dev` activates dev; CI pushes immutable tags and installs with the defaults."""
    profiles = {p["name"]: p for p in CONFIG["profiles"]}
    assert set(profiles) == {"dev", "ci"}
    ci = profiles["ci"]
    assert ci["build"]["local"]["push"] is True
    assert {"op": "replace", "path": "/manifests/helm/releases/0/valuesFiles", "value": []} in ci[
        "patches"
    ]


def test_dev_values_render() -> None:
    """The dev values file is accepted by the schema and renders."""
    assert render_chart(values_files=[CHART_DIR / "values-dev.yaml"])
