"""The chart's monitoring and alerting templates, rendered by the real helm through
`render_chart()` and checked with the real promtool and amtool."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from airflow_platform.metrics.catalogue import METRICS, POD_SERIES
from tests.chart.render import (
    CHART_DIR,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    by_kind,
    find,
    render_chart,
    run_helm,
)
from tests.observability.servers import prometheus, query, run_tool

pytestmark = [pytest.mark.chart, pytest.mark.observability]
STATSD = f"{FULLNAME}-statsd-exporter"


def _airflow_cfg(docs: list[dict[str, Any]]) -> str:
    cm = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)
    text: str = cm["data"]["airflow.cfg"]
    return text


def _with_api_versions(*api_versions: str) -> list[dict[str, Any]]:
    """`helm template` of the default values as render_chart() runs it, plus --api-versions
    (render_chart() has no way to pass cluster capabilities)."""
    args = ["template", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE]
    for version in api_versions:
        args += ["--api-versions", version]
    return [d for d in yaml.safe_load_all(run_helm(*args)) if d]


def test_statsd_exporter_is_deployed_and_airflow_sends_statsd_to_it() -> None:
    """By default the chart runs a statsd-exporter (pinned image, mapping mounted) and every
    component's airflow.cfg turns StatsD on towards its Service."""
    docs = render_chart()
    deployment = find(docs, "Deployment", STATSD, NAMESPACE)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    image = container["image"]
    assert image == "registry.internal/airflow-platform/statsd-exporter:0.1.0"  # images/
    assert "--statsd.mapping-config=/etc/statsd-exporter/mapping.yaml" in container["args"]
    mapping = yaml.safe_load(find(docs, "ConfigMap", STATSD, NAMESPACE)["data"]["mapping.yaml"])
    names = {m["name"] for m in mapping["mappings"]}
    assert {
        "airflow_scheduler_heartbeat_total",
        "airflow_triggerer_heartbeat_total",
        "airflow_dag_processing_import_errors",
    } <= names
    service = find(docs, "Service", STATSD, NAMESPACE)
    assert {(p["port"], p["protocol"]) for p in service["spec"]["ports"]} >= {
        (9125, "UDP"),
        (9102, "TCP"),
    }
    cfg = _airflow_cfg(docs)
    assert "statsd_on = True" in cfg
    assert f"statsd_host = {STATSD}.{NAMESPACE}.svc" in cfg
    assert "statsd_port = 9125" in cfg
    # The tags are what give Airflow's task metrics, and the platform's, their labels.
    assert "statsd_influxdb_enabled = True" in cfg


def test_statsd_can_be_turned_off() -> None:
    """monitoring.statsd.enabled=false: no exporter objects and no [metrics] section."""
    docs = render_chart({"monitoring": {"statsd": {"enabled": False}}})
    assert not [d for d in docs if d["metadata"]["name"] == STATSD]
    assert "statsd_on" not in _airflow_cfg(docs)


def test_statsd_exporter_only_takes_statsd_from_the_release() -> None:
    """Its NetworkPolicy admits StatsD from the release's pods (here, and its worker pods in the
    workers' namespace: tests/chart/test_network_policies.py) and metrics scrapes from anyone."""
    policy = find(render_chart(), "NetworkPolicy", STATSD, NAMESPACE)
    statsd_rule, workers_rule, metrics_rule = policy["spec"]["ingress"]
    assert statsd_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}}}
    ]
    (peer,) = workers_rule["from"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "worker"
    assert metrics_rule == {"ports": [{"port": 9102, "protocol": "TCP"}]}


def test_worker_pods_get_the_notification_settings_and_send_metrics_as_airflow_does() -> None:
    """The worker pod template carries the connection ids; the job metrics need nothing of
    their own: they follow the `[metrics]` section every pod's airflow.cfg has."""
    docs = render_chart(
        {"alerting": {"notifications": {"airflowBaseUrl": "https://airflow.example.org"}}}
    )
    cm = find(docs, "ConfigMap", f"{FULLNAME}-airflow-config", NAMESPACE)
    pod = yaml.safe_load(cm["data"]["pod_template_file.yaml"])
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert not [name for name in env if "PUSHGATEWAY" in name]
    assert env["AIRFLOW_PLATFORM_PAGERDUTY_CONN_ID"] == "pagerduty_default"
    assert env["AIRFLOW_PLATFORM_SLACK_CONN_ID"] == "slack_default"
    assert env["AIRFLOW_PLATFORM_AIRFLOW_URL"] == "https://airflow.example.org"


def test_prometheus_rule_renders_only_when_the_crd_api_exists() -> None:
    """No PrometheusRule without monitoring.coreos.com/v1; with it, the same groups as the
    rules ConfigMap for a Prometheus without the operator."""
    assert not by_kind(render_chart(), "PrometheusRule")
    docs = _with_api_versions("monitoring.coreos.com/v1")
    rule = find(docs, "PrometheusRule", FULLNAME, NAMESPACE)
    assert rule["spec"] == yaml.safe_load(_rules_text(docs))


def _rules_text(docs: list[dict[str, Any]]) -> str:
    """The rules file of the release's `<fullname>-alert-rules` ConfigMap."""
    [configmap] = [
        d for d in by_kind(docs, "ConfigMap") if d["metadata"]["name"].endswith("-alert-rules")
    ]
    text: str = configmap["data"]["airflow-platform.rules.yaml"]
    return text


def test_rendered_rules_point_runbooks_at_the_configured_base_and_pass_promtool(
    tmp_path: Path,
) -> None:
    """The rules ConfigMap uses alerting.runbookBaseUrl and is still valid for promtool."""
    docs = render_chart(
        {"alerting": {"runbookBaseUrl": "https://wiki.example.org/airflow/runbooks"}}
    )
    text = _rules_text(docs)
    rules = [r for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "alert" in r]
    assert rules
    assert all(
        r["annotations"]["runbook_url"].startswith("https://wiki.example.org/airflow/runbooks/")
        for r in rules
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    result = run_tool("promtool", "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("release", "values", "queue"),
    [
        ("airflow-platform", {}, "airflow-platform-vision"),
        (RELEASE, {}, f"{FULLNAME}-vision"),
        (RELEASE, {"fullnameOverride": "jobs"}, "jobs-vision"),
    ],
)
def test_the_quota_wait_alert_names_the_team_of_the_releases_queue(
    release: str, values: dict[str, Any], queue: str, tmp_path: Path
) -> None:
    """The ClusterQueue the chart names for a team (templates/kueue/clusterqueue.yaml) gives
    the alert its `team` label, whatever the release's full name; promtool runs the rule."""
    values = {**values, "kueue": {"enabled": True}}
    docs = render_chart(values, name=release)
    assert queue in {d["metadata"]["name"] for d in by_kind(docs, "ClusterQueue")}
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules_text(docs))
    series = f'kueue_pending_workloads{{cluster_queue="{queue}",status="active",replica_role="standalone"}}'
    firing = (
        'ALERTS{alertname="TeamJobsWaitingForQuota",alertstate="firing",'
        f'cluster_queue="{queue}",severity="warning",team="vision"}}'
    )
    test = {
        "rule_files": [str(rules)],
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series, "values": "2x90"}],
                "promql_expr_test": [
                    {
                        "expr": 'ALERTS{alertname="TeamJobsWaitingForQuota",alertstate="firing"}',
                        "eval_time": "70m",
                        "exp_samples": [{"labels": firing, "value": 1}],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "team.test.yaml"
    path.write_text(yaml.safe_dump(test))
    result = run_tool("promtool", "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_quota_wait_alert_waits_as_long_as_kueue_alert_after_says() -> None:
    docs = render_chart({"kueue": {"alertAfter": "3h"}})
    text = _rules_text(docs)
    groups = yaml.safe_load(text)["groups"]
    rules = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert rules["TeamJobsWaitingForQuota"]["for"] == "3h"
    assert rules["JobsWaitingForCapacity"].get("for") != "3h"


def _alertmanager_config(docs: list[dict[str, Any]]) -> dict[str, Any]:
    secret = find(docs, "ConfigMap", f"{FULLNAME}-alertmanager-config", NAMESPACE)
    config: dict[str, Any] = yaml.safe_load(secret["data"]["alertmanager.yaml"])
    return config


def test_alertmanager_config_passes_amtool(tmp_path: Path) -> None:
    """The rendered Alertmanager configuration is accepted by `amtool check-config`."""
    docs = render_chart()
    secret = find(docs, "ConfigMap", f"{FULLNAME}-alertmanager-config", NAMESPACE)
    path = tmp_path / "alertmanager.yaml"
    path.write_text(secret["data"]["alertmanager.yaml"])
    result = run_tool("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_critical_alerts_page_and_warnings_go_to_slack_with_keys_from_secrets() -> None:
    """critical -> PagerDuty (routing key file from its Secret), everything else -> Slack
    (webhook file from its Secret); no key or URL is written in the config itself."""
    docs = render_chart(
        {
            "alerting": {
                "alertmanager": {
                    "secretsMountPath": "/etc/am/secrets",
                    "pagerduty": {"routingKeySecret": {"name": "pd", "key": "rk"}},
                    "slack": {"webhookSecret": {"name": "sl", "key": "url"}, "channel": "#jobs"},
                }
            }
        }
    )
    config = _alertmanager_config(docs)
    assert config["route"]["receiver"] == "slack"
    assert config["route"]["routes"] == [
        {"matchers": ['severity="critical"'], "receiver": "pagerduty"}
    ]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert (
        receivers["pagerduty"]["pagerduty_configs"][0]["routing_key_file"]
        == "/etc/am/secrets/pd/rk"
    )
    slack = receivers["slack"]["slack_configs"][0]
    assert (slack["api_url_file"], slack["channel"]) == ("/etc/am/secrets/sl/url", "#jobs")


def test_grafana_dashboard_is_labelled_for_the_sidecar_and_queries_known_metrics() -> None:
    """The dashboard ConfigMap carries grafana_dashboard: "1"; its JSON has the four panels
    and every airflow_platform_* name it queries is a defined metric, every cAdvisor and
    kube-state-metrics name one the catalogue lists."""
    docs = render_chart()
    cm = find(docs, "ConfigMap", f"{FULLNAME}-grafana-dashboard", NAMESPACE)
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["airflow-platform-jobs.json"])
    titles = [p["title"] for p in dashboard["panels"]]
    assert titles == [
        "Running jobs per flavor",
        "Capacity wait per flavor (p50, p90)",
        "Failures by reason",
        "Requested vs used memory per flavor",
    ]
    known = {m.name for m in METRICS}
    used = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        for p in dashboard["panels"]
        for t in p["targets"]
        for name in re.findall(r"\bairflow_platform_[a-z_]+", t["expr"])
    }
    assert used <= known, used - known
    pod_series = {
        name
        for p in dashboard["panels"]
        for t in p["targets"]
        for name in re.findall(r"\b(?:kube|container)_[a-z_]+", t["expr"])
    }
    assert pod_series, "the pod panels read cAdvisor and kube-state-metrics"
    assert pod_series <= set(POD_SERIES), pod_series - set(POD_SERIES)


def test_every_dashboard_query_is_accepted_by_a_real_prometheus(tmp_path: Path) -> None:
    """Each panel's PromQL (Grafana's $team and $flavor as `.*`) evaluates without an error."""
    docs = render_chart()
    cm = find(docs, "ConfigMap", f"{FULLNAME}-grafana-dashboard", NAMESPACE)
    dashboard = json.loads(cm["data"]["airflow-platform-jobs.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    with prometheus(tmp_path / "prom") as prom:
        for expr in exprs:
            query(prom, expr.replace("$team", ".*").replace("$flavor", ".*"))
