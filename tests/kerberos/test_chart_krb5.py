"""The chart renders the realm's krb5.conf and the Spark drivers' RBAC into the jobs namespace
of each team that has a principal or Spark bounds, with the real helm; no keytab is ever part
of the values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.render import by_kind, render_chart

pytestmark = [pytest.mark.kerberos, pytest.mark.chart]

KRB5 = "[libdefaults]\n  default_realm = EXAMPLE.COM\n[realms]\n  EXAMPLE.COM = {\n    kdc = kdc.example.com:88\n  }\n"


def _values() -> dict[str, Any]:
    return {
        "platform": {
            "teams": {
                "analytics": {
                    "kerberos": {"principal": "svc-analytics@EXAMPLE.COM", "keytab_secret": "kt"}
                }
            },
            "kerberos": {
                "realm": "EXAMPLE.COM",
                "krb5_conf": KRB5,
                "krb5_conf_configmap": "realm-krb5",
                "image": "registry.internal/platform/krb5:1.20.1",
            },
        }
    }


def test_krb5_conf_is_rendered_into_the_kerberos_teams_namespace() -> None:
    """`platform.kerberos.krb5_conf` becomes key krb5.conf of the named ConfigMap, byte for
    byte, in the namespace of the team with a principal (analytics) and nowhere else."""
    docs = render_chart(_values(), show_only="templates/jobs/krb5-configmap.yaml")
    (configmap,) = by_kind(docs, "ConfigMap")
    assert configmap["metadata"]["name"] == "realm-krb5"
    assert configmap["metadata"]["namespace"] == "airflow-jobs-analytics"
    assert configmap["data"] == {"krb5.conf": KRB5}


def test_no_krb5_configmap_without_kerberos() -> None:
    """Without `platform.kerberos` nor Spark bounds (the chart's default) no ConfigMap holds a
    krb5.conf and the chart grants Spark nothing."""
    docs = render_chart()
    assert [d for d in by_kind(docs, "ConfigMap") if "krb5.conf" in (d.get("data") or {})] == []
    assert [r for r in by_kind(docs, "Role") if "spark" in r["metadata"]["name"]] == []


def test_spark_driver_may_manage_executors_in_its_teams_namespace_only() -> None:
    """Once a team may run Spark, the drivers' service account is bound to a Role (never a
    ClusterRole) in that team's jobs namespace, and in no other team's."""
    values = _values()
    values["platform"]["teams"] = {"analytics": {"spark": {"max_executors": 4}}}
    docs = render_chart(values, show_only="templates/jobs/spark-rbac.yaml")
    (account,) = by_kind(docs, "ServiceAccount")
    assert account["metadata"] == {**account["metadata"], "name": "airflow-platform-spark"}
    assert account["metadata"]["namespace"] == "airflow-jobs-analytics"
    roles = by_kind(docs, "Role")
    assert roles
    assert all(r["metadata"]["namespace"] == "airflow-jobs-analytics" for r in roles)
    assert not by_kind(docs, "ClusterRole")
    driver = next(r for r in roles if r["metadata"]["name"].endswith("-spark-driver"))
    assert "pods" in driver["rules"][0]["resources"]
    assert "secrets" not in str(driver["rules"])
