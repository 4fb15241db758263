"""The chart's alert rules, checked and unit-tested by the real promtool: each alert fires on
the series that should page or warn, and stays silent on healthy ones."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.servers import run_tool

pytestmark = [pytest.mark.unit, pytest.mark.observability]
ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "charts" / "airflow-platform" / "files" / "alerts.rules.yaml"

NLP = 'team="nlp",flavor="cpu-2gb",job_name="count-tokens"'
GPU = 'team="vision",flavor="gpu-1x-24gb",job_name="train"'
# What the statsd-exporter's scrape adds to every series.
EXPORTER = 'job="statsd-exporter",instance="statsd:9102"'
NORM = 'job="strain_normalization",dag="strain-normalization"'


def _failures(labels: str, reason: str, values: str, critical: str = "false") -> dict[str, str]:
    series = (
        f'airflow_platform_job_failures_total{{{labels},reason="{reason}",critical="{critical}"}}'
    )
    return {"series": series, "values": values}


def _airflow_finished(task: str, state: str, values: str) -> dict[str, str]:
    """Airflow's own `ti.finish`, as the chart's mapping names it (DAG `tokens`)."""
    labels = f'{EXPORTER},dag_id="tokens",task_id="{task}",state="{state}"'
    return {"series": f"airflow_task_finished_total{{{labels}}}", "values": values}


def _task_started(task: str, team: str, flavor: str, values: str) -> dict[str, str]:
    """The platform's start timestamp of a task of DAG `tokens`, naming its team and flavor."""
    labels = f'{EXPORTER},dag_id="tokens",task_id="{task}",team="{team}",flavor="{flavor}"'
    return {
        "series": f"airflow_platform_task_started_timestamp_seconds{{{labels}}}",
        "values": values,
    }


# The task's flavor changed: its latest start (the larger timestamp) names the flavor in use.
TOKENS_STARTS = [
    _task_started("count-tokens", "nlp", "cpu-4gb", "500x120"),
    _task_started("count-tokens", "nlp", "cpu-2gb", "1000+60x120"),
]


def _pod_labels(pod: str, flavor: str) -> dict[str, str]:
    """kube-state-metrics' labels series of a job pod, with the platform's labels allowed."""
    labels = (
        f'namespace="airflow-jobs-vision",pod="{pod}",label_airflow_platform_team="vision",'
        f'label_airflow_platform_flavor="{flavor}"'
    )
    return {"series": f"kube_pod_labels{{{labels}}}", "values": "1x30"}


def _unschedulable(pod: str, values: str) -> dict[str, str]:
    """kube-state-metrics' unschedulable flag of a pod (1 while PodScheduled is False with
    reason Unschedulable)."""
    labels = f'namespace="airflow-jobs-vision",pod="{pod}"'
    return {"series": f"kube_pod_status_unschedulable{{{labels}}}", "values": values}


def _pending(status: str, role: str, values: str) -> dict[str, str]:
    """Kueue's gauge with the labels Kueue v0.17 gives it (tests/kueue/test_quota_alert.py
    reads them from the real Kueue)."""
    # The queue the chart names for team vision when the release is called airflow-platform.
    labels = f'cluster_queue="airflow-platform-vision",status="{status}",replica_role="{role}"'
    return {"series": f"kueue_pending_workloads{{{labels}}}", "values": values}


# alert -> (labels it fires with, eval time, series that fire it, series that keep it silent)
SCENARIOS: dict[str, tuple[dict[str, str], str, list[dict[str, str]], list[dict[str, str]]]] = {
    "JobFailureRatioHigh": (
        {"team": "nlp", "severity": "warning"},
        "90m",
        [
            *TOKENS_STARTS,
            _airflow_finished("count-tokens", "up_for_retry", "0+1x120"),
            _airflow_finished("count-tokens", "success", "0+1x120"),
        ],
        [  # one retried try in two hours, among a try a minute that succeeds
            *TOKENS_STARTS,
            _airflow_finished("count-tokens", "up_for_retry", "0x60 1x60"),
            _airflow_finished("count-tokens", "success", "0+1x120"),
        ],
    ),
    "CriticalJobFailed": (
        {
            "team": "nlp",
            "flavor": "cpu-2gb",
            "job_name": "count-tokens",
            "dag": "tokens",
            "severity": "critical",
        },
        "40m",
        [
            {
                "series": f'airflow_platform_job_last_run_failed{{{NLP},dag="tokens",critical="true"}}',
                "values": "1x60",
            }
        ],
        [
            {  # a critical job that failed, then succeeded on retry within 30 minutes
                "series": f'airflow_platform_job_last_run_failed{{{NLP},dag="tokens",critical="true"}}',
                "values": "1x20 0x40",
            },
            {  # a failed job that is not critical
                "series": f'airflow_platform_job_last_run_failed{{{GPU},critical="false"}}',
                "values": "1x60",
            },
        ],
    ),
    "TeamJobsWaitingForQuota": (
        {"cluster_queue": "airflow-platform-vision", "team": "vision", "severity": "warning"},
        "70m",
        [
            _pending("inadmissible", "leader", "3x80"),
            _pending("active", "leader", "0x80"),
            _pending("active", "follower", "3x80"),
        ],
        [  # a backlog that empties every half hour: jobs wait, but not for an hour ...
            _pending("active", "leader", "2x20 0x10 2x20 0x10 2x20"),
            _pending("inadmissible", "leader", "0x80"),
            # ... while an HA follower's stale copy of the count never empties
            _pending("active", "follower", "2x80"),
        ],
    ),
    "JobsWaitingForCapacity": (
        {"flavor": "gpu-1x-24gb", "severity": "warning"},
        "20m",
        [_pod_labels("train-1", "gpu-1x-24gb"), _unschedulable("train-1", "1x30")],
        # Unschedulable for 5 minutes only, then placed.
        [_pod_labels("train-1", "gpu-1x-24gb"), _unschedulable("train-1", "1x5 0x25")],
    ),
    "GpuJobsUnschedulable": (
        {"team": "vision", "flavor": "gpu-1x-24gb", "severity": "warning"},
        "20m",
        [
            _failures(GPU, "unschedulable", "0x10 1x20"),
            {"series": f"airflow_platform_job_requested_gpus{{{GPU}}}", "values": "1x30"},
        ],
        [  # unschedulable CPU jobs are not GPU jobs
            _failures(NLP, "unschedulable", "0x10 1x20"),
            {"series": f"airflow_platform_job_requested_gpus{{{NLP}}}", "values": "0x30"},
        ],
    ),
    "AirflowSchedulerHeartbeatMissing": (
        {"severity": "critical"},
        "20m",
        [{"series": "airflow_scheduler_heartbeat_total", "values": "0+12x5 60x30"}],
        [{"series": "airflow_scheduler_heartbeat_total", "values": "0+12x30"}],
    ),
    "AirflowTriggererHeartbeatMissing": (
        {"severity": "critical"},
        "20m",
        [{"series": "airflow_scheduler_heartbeat_total", "values": "0+12x30"}],  # no triggerer
        [{"series": "airflow_triggerer_heartbeat_total", "values": "0+12x30"}],
    ),
    "DagImportErrors": (
        {"severity": "warning"},
        "20m",
        [{"series": "airflow_dag_processing_import_errors", "values": "0 0 1x30"}],
        [{"series": "airflow_dag_processing_import_errors", "values": "0x30"}],
    ),
    "StrainBatchEffectScaleHigh": (
        {"dag": "strain-normalization", "severity": "warning"},
        "10m",
        [  # a fit whose batch effects jump past the bound
            {
                "series": f"strain_norm_batch_effect_scale_ratio{{{NORM}}}",
                "values": "0.06x5 0.21x10",
            },
            {
                "series": f"strain_norm_batch_effect_scale_bound_ratio{{{NORM}}}",
                "values": "0.15x15",
            },
        ],
        [
            {
                "series": f"strain_norm_batch_effect_scale_ratio{{{NORM}}}",
                "values": "0.06x5 0.14x10",
            },
            {
                "series": f"strain_norm_batch_effect_scale_bound_ratio{{{NORM}}}",
                "values": "0.15x15",
            },
        ],
    ),
}


def _all_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _rules() -> list[dict[str, Any]]:
    return [rule for rule in _all_rules() if "alert" in rule]


def _promtool_test(
    tmp_path: Path, name: str, series: list[dict[str, str]], at: str, expect: list[dict[str, Any]]
) -> None:
    """promtool: at ``at``, the firing alert ``name`` (or the series of the recording rule
    ``name``) is exactly ``expect``."""
    expr = name if ":" in name else f'ALERTS{{alertname="{name}",alertstate="firing"}}'
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": at,
                        "exp_samples": expect,
                    }
                ],
            }
        ],
    }
    path = tmp_path / f"{name.replace(':', '_')}.test.yaml"
    path.write_text(yaml.safe_dump(test))
    result = run_tool("promtool", "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules_file() -> None:
    """`promtool check rules` finds every rule valid (PromQL and templates)."""
    result = run_tool("promtool", "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_all_rules())} rules found" in result.stdout


def test_every_alert_has_a_scenario() -> None:
    """No alert goes untested: the scenarios cover exactly the file's alerts."""
    assert {rule["alert"] for rule in _rules()} == set(SCENARIOS)


def _airflow_duration(task: str, le: str, values: str) -> dict[str, str]:
    """A bucket of Airflow's own `task.duration` histogram, as the chart's mapping names it."""
    labels = f'{EXPORTER},dag_id="tokens",task_id="{task}",le="{le}"'
    return {"series": f"airflow_task_duration_seconds_bucket{{{labels}}}", "values": values}


@pytest.mark.parametrize(
    ("rule", "airflow_series", "extra_label"),
    [
        ("airflow_platform:task_finished_total", _airflow_finished, 'state="success"'),
        ("airflow_platform:task_duration_seconds_bucket", _airflow_duration, 'le="60"'),
    ],
)
def test_airflow_task_series_get_the_team_and_flavor_of_the_task_s_latest_start(
    tmp_path: Path, rule: str, airflow_series: Any, extra_label: str
) -> None:
    """The recording rules label Airflow's task series (which know only the DAG and task)
    with the team and flavor of the task's latest start, not an earlier flavor's; a task the
    platform never started (no start series) is left out."""
    value = extra_label.split('"')[1]
    series = [
        *TOKENS_STARTS,
        airflow_series("count-tokens", value, "0+1x30"),
        airflow_series("not-a-platform-task", value, "0+1x30"),
    ]
    labels = (
        f'{EXPORTER},dag_id="tokens",task_id="count-tokens",{extra_label},'
        'team="nlp",flavor="cpu-2gb"'
    )
    _promtool_test(tmp_path, rule, series, "20m", [{"labels": f"{rule}{{{labels}}}", "value": 20}])


@pytest.mark.parametrize("alert", sorted(SCENARIOS))
def test_alert_fires_on_its_scenario(alert: str, tmp_path: Path) -> None:
    """promtool: the alert is firing, with these labels, on the series of its scenario."""
    labels, at, firing, _ = SCENARIOS[alert]
    text = ",".join(
        f'{k}="{v}"'
        for k, v in sorted({**labels, "alertname": alert, "alertstate": "firing"}.items())
    )
    _promtool_test(tmp_path, alert, firing, at, [{"labels": f"ALERTS{{{text}}}", "value": 1}])


@pytest.mark.parametrize("alert", sorted(SCENARIOS))
def test_alert_stays_silent_when_healthy(alert: str, tmp_path: Path) -> None:
    """promtool: the alert does not fire on the healthy series of its scenario."""
    _, at, _, healthy = SCENARIOS[alert]
    _promtool_test(tmp_path, alert, healthy, at, [])


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_every_alert_has_severity_summary_description_and_an_existing_runbook(
    rule: dict[str, Any],
) -> None:
    """Each alert carries severity (critical pages, warning goes to Slack), summary,
    description, and a runbook_url whose page exists in docs/runbooks/."""
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    match = re.search(r"/docs/runbooks/([A-Za-z0-9-]+\.md)$", rule["annotations"]["runbook_url"])
    assert match, rule["annotations"]["runbook_url"]
    page = ROOT / "docs" / "runbooks" / match.group(1)
    assert page.is_file(), f"{page.relative_to(ROOT)} is missing"
    assert page.read_text().startswith(f"# {rule['alert']}")
