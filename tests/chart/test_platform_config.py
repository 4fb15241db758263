"""The platform ConfigMap: the library's own format, mounted everywhere the library reads it,
and a change to it rolls the components."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airflow_platform.config import load_config
from tests.chart.render import (
    CHART_DIR,
    COMPONENTS,
    FULLNAME,
    NAMESPACE,
    VALUES_DIR,
    WORKERS_NAMESPACE,
    by_kind,
    find,
    render_chart,
    search,
)

pytestmark = pytest.mark.chart

CONFIGMAP = "templates/configmaps/platform-configmap.yaml"
CONFIG_PATH = "/opt/airflow/platform/platform.yaml"


def _platform_yaml(values: dict | None = None, values_files: list[Path] | None = None) -> str:
    docs = render_chart(values, CONFIGMAP, values_files=values_files)
    configmap = find(docs, "ConfigMap", f"{FULLNAME}-platform-config", NAMESPACE)
    assert list(configmap["data"]) == ["platform.yaml"]
    return configmap["data"]["platform.yaml"]


@pytest.mark.parametrize(
    "values_file", [None, VALUES_DIR / "custom-flavors.yaml"], ids=["defaults", "custom-flavors"]
)
def test_rendered_platform_config_loads_through_the_library(
    values_file: Path | None, tmp_path: Path
) -> None:
    """The ConfigMap's platform.yaml is accepted by `load_config`, the library's only reader,
    and holds the catalog given in values."""
    text = _platform_yaml(values_files=[values_file] if values_file else None)
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    config = load_config(path)
    expected = yaml.safe_load((values_file or CHART_DIR / "values.yaml").read_text())["platform"]
    assert set(config.flavors) >= set(expected["flavors"])
    assert config.policy.jobs_namespace == (
        expected.get("policy", {}).get("jobs_namespace") or WORKERS_NAMESPACE
    )


def test_platform_config_is_the_values_document_verbatim() -> None:
    """What the platform team writes under `platform:` is what the library reads, nothing added."""
    flavor = {"cpu": "3", "memory": "6Gi", "description": "odd size"}
    text = _platform_yaml({"platform": {"flavors": {"cpu-6gb": flavor}}})
    document = yaml.safe_load(text)
    assert document["flavors"]["cpu-6gb"] == flavor
    assert set(document) == {"teams", "flavors", "policy", "gpu_nodes"}


def test_a_default_flavor_is_removed_by_setting_it_to_null() -> None:
    """Helm merges a values file's flavors into the defaults; null is how a platform team drops
    a default flavor (docs/platform-team.md says so)."""
    document = yaml.safe_load(_platform_yaml({"platform": {"flavors": {"ram-64gb": None}}}))
    assert "ram-64gb" not in document["flavors"]
    assert "cpu-2gb" in document["flavors"]


def test_default_catalog_matches_the_documented_one() -> None:
    """The chart ships the catalog the platform config format documents, GPU flavors included."""
    document = yaml.safe_load(_platform_yaml())
    assert set(document["flavors"]) == {
        "cpu-2gb",
        "cpu-4gb",
        "cpu-16gb",
        "ram-64gb",
        "gpu-1x-24gb",
        "gpu-4x-96gb",
    }
    assert document["flavors"]["gpu-4x-96gb"]["gpu"] == {
        "count": 4,
        "resource": "nvidia.com/gpu",
        "product": "NVIDIA-A10G",
    }
    assert document["gpu_nodes"] == {
        "label": "nvidia.com/gpu.present",
        "product_label": "nvidia.com/gpu.product",
        "taint": "nvidia.com/gpu",
    }
    assert document["policy"]["jobs_namespace"] == WORKERS_NAMESPACE


def test_invalid_catalog_the_schema_cannot_see_is_caught_by_the_library(tmp_path: Path) -> None:
    """A flavor restricted to an unknown team passes the schema (it spans keys) but the library
    refuses it with a did-you-mean, which is what the components would log on start."""
    from airflow_platform.spec import SpecError

    text = _platform_yaml({"platform": {"flavors": {"gpu-1x-24gb": {"teams": ["visoin"]}}}})
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        load_config(path)
    assert "visoin" in str(err.value)


def test_platform_config_is_rendered_in_the_jobs_namespace_too() -> None:
    """Worker pods mount the same document from their own namespace."""
    docs = by_kind(render_chart(None, CONFIGMAP), "ConfigMap")
    assert sorted(d["metadata"]["namespace"] for d in docs) == sorted(
        [WORKERS_NAMESPACE, NAMESPACE]
    )
    assert docs[0]["data"] == docs[1]["data"]


def _pod_specs() -> dict[str, dict]:
    docs = render_chart()
    specs = {
        f"Deployment/{c}": find(docs, "Deployment", f"{FULLNAME}-{c}")["spec"]["template"]["spec"]
        for c in COMPONENTS
    }
    worker = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", WORKERS_NAMESPACE)
    specs["worker pod template"] = yaml.safe_load(worker["data"]["pod_template_file.yaml"])["spec"]
    return specs


@pytest.mark.parametrize(
    "origin", [*(f"Deployment/{c}" for c in COMPONENTS), "worker pod template"]
)
def test_every_airflow_container_reads_the_mounted_platform_config(origin: str) -> None:
    """AIRFLOW_PLATFORM_CONFIG points at the mounted file in every component and worker pod."""
    spec = _pod_specs()[origin]
    container = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AIRFLOW_PLATFORM_CONFIG"] == CONFIG_PATH
    mount = search("volumeMounts[?name=='platform-config'] | [0]", container)
    assert mount["mountPath"] == str(Path(CONFIG_PATH).parent)
    volume = search("volumes[?name=='platform-config'] | [0]", spec)
    assert volume["configMap"]["name"] == f"{FULLNAME}-platform-config"


@pytest.mark.parametrize("component", COMPONENTS)
def test_changing_a_flavor_rolls_the_component(component: str) -> None:
    """The checksum annotation changes with the platform config, so `helm upgrade` restarts
    pods that would otherwise keep the old catalog; unrelated values leave it alone."""

    def checksum(values: dict | None) -> str:
        deployment = render_chart(values, f"templates/{component}/deployment.yaml")[0]
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/platform-config"]

    before = checksum(None)
    assert checksum({"platform": {"flavors": {"cpu-2gb": {"memory": "3Gi"}}}}) != before
    assert checksum({"apiServer": {"replicas": 2}}) == before
