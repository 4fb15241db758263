"""values.schema.json: closed everywhere, described everywhere, and its refusals name the key."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.chart.render import CHART_DIR, HelmError, render_chart
from tests.harness.tools import REPO_ROOT

pytestmark = pytest.mark.chart

SCHEMA = json.loads((CHART_DIR / "values.schema.json").read_text())

# (values, text the error must contain): each a mistake a platform team could make.
REJECTED = {
    "typo at the top": ({"schedular": {"replicas": 2}}, "additional properties 'schedular'"),
    "typo in a component": ({"apiServer": {"replica": 2}}, "additional properties 'replica'"),
    "typo in a flavor": (
        {"platform": {"flavors": {"cpu-8gb": {"cpu": "2", "memori": "8Gi"}}}},
        "additional properties 'memori'",
    ),
    "flavor without memory": (
        {"platform": {"flavors": {"cpu-8gb": {"cpu": "2"}}}},
        "missing property 'memory'",
    ),
    "unknown policy key": (
        {"platform": {"policy": {"allowed_image": ["x/"]}}},
        "additional properties 'allowed_image'",
    ),
    "gpu count is a number": (
        {"platform": {"flavors": {"g": {"cpu": "1", "memory": "1Gi", "gpu": {"count": "two"}}}}},
        "/platform/flavors/g/gpu/count",
    ),
    "image tag latest": ({"images": {"airflow": {"tag": "latest"}}}, "/images/airflow/tag"),
    "resources without limits": (
        {"scheduler": {"resources": {"limits": None}}},
        "missing property 'limits'",
    ),
    "memory not a quantity": (
        {"workers": {"resources": {"limits": {"memory": "1 GB"}}}},
        "/workers/resources/limits/memory",
    ),
    "worker batch size of one": (
        {"workers": {"podsCreationBatchSize": 1}},
        "/workers/podsCreationBatchSize",
    ),
    "unknown ui role": ({"auth": {"users": ["alice:root"]}}, "/auth/users/0"),
    "job service account null": (
        {"platform": {"policy": {"service_account": None}}},
        "missing property 'service_account'",
    ),
    "sslmode typo": ({"externalDatabase": {"sslMode": "required"}}, "/externalDatabase/sslMode"),
    "network policy typo": (
        {"networkPolicies": {"enable": False}},
        "additional properties 'enable'",
    ),
}


@pytest.mark.parametrize(("values", "message"), REJECTED.values(), ids=REJECTED.keys())
def test_schema_refuses_bad_values_naming_the_key(values: dict[str, Any], message: str) -> None:
    """A mistake in values fails rendering, and the message points at the offending key."""
    with pytest.raises(HelmError) as err:
        render_chart(values)
    assert message in str(err.value)


# Mistakes the schema cannot see because they span keys; the templates refuse them.
INCONSISTENT = {
    "external database without host": (
        {"postgresql": {"enabled": False}},
        "externalDatabase.host is required when postgresql.enabled is false",
    ),
    "external database without password": (
        {"externalDatabase": {"host": "pg"}},
        "externalDatabase.passwordSecret is required with an external database",
    ),
    "git-sync without repo": ({"gitSync": {"enabled": True}}, "gitSync.repo is required"),
}


@pytest.mark.parametrize(("values", "message"), INCONSISTENT.values(), ids=INCONSISTENT.keys())
def test_inconsistent_values_fail_with_the_fix(values: dict[str, Any], message: str) -> None:
    """Cross-key mistakes fail `helm template` with a message saying what to set."""
    with pytest.raises(HelmError) as err:
        render_chart(values)
    assert message in str(err.value)


def _walk(node: Any, path: str, root: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return []
    found = [(path, node)]
    for key, child in node.get("properties", {}).items():
        found += _walk(child, f"{path}.{key}", root)
    for branch in node.get("anyOf", []):
        found += _walk(branch, f"{path}(anyOf)", root)
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}.<name>", root)
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]", root)
    return found


def _nodes() -> list[tuple[str, dict[str, Any]]]:
    nodes = _walk(SCHEMA, "", SCHEMA)
    for name, definition in SCHEMA["definitions"].items():
        nodes += _walk(definition, f"#{name}", SCHEMA)
    return nodes


def test_every_key_has_a_description() -> None:
    """Each property of the schema says what it is for; the values reference is built from it."""
    missing = []
    for path, node in _nodes():
        for key, child in node.get("properties", {}).items():
            if not child.get("description"):
                missing.append(f"{path}.{key}")
    assert not missing, f"keys without a description: {missing}"


def test_every_object_is_closed() -> None:
    """No object accepts keys it does not list, so a typo fails install; the only open maps
    (flavors, teams, labels, airflowConfig) type their entries instead."""
    open_objects = [
        path or "<root>"
        for path, node in _nodes()
        if node.get("type") == "object"
        and "additionalProperties" not in node
        and path != ".global"  # Helm itself injects `global`
    ]
    assert not open_objects, f"objects without additionalProperties: {open_objects}"
    assert all(node.get("additionalProperties") is not True for _, node in _nodes()), (
        "an object allows any key"
    )


def test_values_yaml_meets_its_schema_without_overrides() -> None:
    """The defaults render: the shipped values.yaml is valid against the shipped schema."""
    assert render_chart()


def test_values_reference_and_platform_schema_are_up_to_date() -> None:
    """README.md's values table and the schema's `platform` part are what the generator makes
    from the schema and from the library's PlatformConfig model, so neither is edited by hand."""
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "chart-values-reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
