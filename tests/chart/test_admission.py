"""The chart's ValidatingAdmissionPolicy is the library's (airflow_platform.admission), for
every values file the chart is tested with; the cluster tests run it on the API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_platform.admission import policy_binding, validating_admission_policy
from airflow_platform.config import parse_config
from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    TEAM_NAMESPACES,
    VALUES_DIR,
    WORKERS_NAMESPACE,
    by_kind,
    find,
    render_chart,
    values_files,
)

pytestmark = pytest.mark.chart


def _without_labels_and_with_data_parsed(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with its data variables as data (helm's JSON escapes differ from Python's
    in form only) and without the chart's labels."""
    policy = json.loads(json.dumps(policy))
    policy["metadata"].pop("labels", None)
    for variable in policy["spec"]["variables"]:
        if variable["expression"][:1] in "[{":
            variable["expression"] = json.loads(variable["expression"])
    return policy


@pytest.mark.parametrize(
    "values", [None, *values_files()], ids=lambda v: v.name if v else "defaults"
)
def test_the_charts_policy_is_the_one_the_library_generates(values: Path | None) -> None:
    docs = render_chart(values_files=[values] if values else None)
    platform = next(
        d
        for d in by_kind(docs, "ConfigMap")
        if d["metadata"]["name"] == f"{FULLNAME}-platform-config"
    )
    config = parse_config(platform["data"]["platform.yaml"].encode(), "platform.yaml")
    (policy,) = by_kind(docs, "ValidatingAdmissionPolicy")
    (binding,) = by_kind(docs, "ValidatingAdmissionPolicyBinding")
    name = f"{FULLNAME}-{NAMESPACE}"
    assert _without_labels_and_with_data_parsed(policy) == _without_labels_and_with_data_parsed(
        validating_admission_policy(config, name)
    )
    binding["metadata"].pop("labels")
    assert binding == policy_binding(config, name)


def test_the_binding_covers_the_teams_namespaces_and_not_the_workers() -> None:
    binding = find(render_chart(), "ValidatingAdmissionPolicyBinding", f"{FULLNAME}-{NAMESPACE}")
    (selector,) = binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
    assert selector["key"] == "kubernetes.io/metadata.name"
    assert selector["values"] == sorted(TEAM_NAMESPACES.values())
    assert WORKERS_NAMESPACE not in selector["values"]
    assert binding["spec"]["validationActions"] == ["Deny"]


def test_the_transfer_image_defaults_to_the_platform_image_and_is_admitted() -> None:
    docs = render_chart(values_files=[VALUES_DIR / "artifacts.yaml"])
    platform = next(
        d
        for d in by_kind(docs, "ConfigMap")
        if d["metadata"]["name"] == f"{FULLNAME}-platform-config"
    )
    config = parse_config(platform["data"]["platform.yaml"].encode(), "platform.yaml")
    assert config.artifacts is not None
    assert config.artifacts.image == "platform.acme.internal/airflow-platform/airflow:7.1"
    (policy,) = by_kind(docs, "ValidatingAdmissionPolicy")
    images = next(v for v in policy["spec"]["variables"] if v["name"] == "images")
    assert json.loads(images["expression"]) == [config.artifacts.image]
