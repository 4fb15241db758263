"""Task-level paging: job tasks run by real Airflow (dag.test() on the local backend) page
PagerDuty for critical jobs and post to Slack for the others. PagerDuty and Slack are stood
in for by a local HTTP server (tests/observability/standin.py) that records each request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.standin import StandIn, saas_standin

pytestmark = [pytest.mark.airflow, pytest.mark.observability]
ROOT = Path(__file__).resolve().parents[2]
ENTRY = ROOT / "dags" / "platform_jobs.py"
JOB = {
    "team": "nlp",
    "resource_flavor": "cpu-4gb",
    "docker_image": "registry.internal/nlp/tools:0.3.1",
    "execution_time": "10m",
}


@pytest.fixture
def saas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[StandIn]:
    """The stand-in server over HTTPS (its CA trusted through $SSL_CERT_FILE), with the
    pagerduty_default and slack_default connections (and the Airflow UI's URL for log links)
    pointing at it."""
    with saas_standin(tmp_path) as standin:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.crt"))
        monkeypatch.setenv(
            "AIRFLOW_CONN_PAGERDUTY_DEFAULT",
            json.dumps(
                {"conn_type": "pagerduty_events", "host": standin.url, "password": "rk-123"}
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_DEFAULT",
            json.dumps(
                {"conn_type": "slackwebhook", "password": f"{standin.url}/services/T0/B0/x"}
            ),
        )
        monkeypatch.setenv("AIRFLOW_PLATFORM_AIRFLOW_URL", "https://airflow.example.org")
        yield standin


def _dag(jobs_dir: Path, name: str, **fields: Any) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    path = jobs_dir / "nlp" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"job": {**JOB, **fields}}))
    dag = DagBag(dag_folder=str(ENTRY)).dags[name]
    for task in dag.tasks:
        task.retry_delay = timedelta(0)  # dag.test() would otherwise wait 5 minutes per retry
    return dag


def test_critical_job_that_fails_pages_with_a_stable_dedup_key(
    airflow_db: Path, jobs_dir: Path, saas: StandIn
) -> None:
    """A critical job exiting 3 (no retries) sends one PagerDuty trigger: routing key from the
    connection, dedup key `airflow-platform/<dag>/<task>/<logical date>`, critical severity,
    the failure reason, team and flavor, and a link to the task log. Nothing goes to Slack."""
    run = _dag(jobs_dir, "nightly", critical=True, execution_script="exit 3").test()
    assert run.state == "failed"
    [event] = saas.to("/v2/enqueue")
    assert event["routing_key"] == "rk-123"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == f"airflow-platform/nightly/nightly/{run.logical_date.isoformat()}"
    payload = event["payload"]
    assert payload["severity"] == "critical"
    assert "job nightly exited with code 3" in payload["summary"]
    details = payload["custom_details"]
    assert (details["team"], details["flavor"], details["status"]) == ("nlp", "cpu-4gb", "failed")
    assert event["links"][0]["href"].startswith("https://airflow.example.org/dags/nightly/runs/")
    assert not [r for r in saas.requests if r.path.startswith("/services/")]


def test_critical_job_whose_retry_succeeds_triggers_then_resolves_the_same_incident(
    airflow_db: Path, jobs_dir: Path, saas: StandIn, tmp_path: Path
) -> None:
    """First try fails (PagerDuty trigger), the retry succeeds (PagerDuty resolve), both with
    the same dedup key."""
    marker = tmp_path / "failed-once"
    script = f"test -f {marker} || {{ touch {marker}; exit 1; }}"
    run = _dag(jobs_dir, "flaky", critical=True, retries=1, execution_script=script).test()
    assert run.state == "success"
    events = saas.to("/v2/enqueue")
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    assert events[0]["dedup_key"] == events[1]["dedup_key"]
    assert events[0]["payload"]["custom_details"]["status"] == "failed, will retry"
    assert events[1]["routing_key"] == "rk-123"


def test_other_failures_post_a_slack_message_with_what_to_act_on(
    airflow_db: Path, jobs_dir: Path, saas: StandIn
) -> None:
    """A non-critical job failing posts to the Slack webhook (through the slack provider's
    notifier): status, logical date, flavor, failure reason and the log link; no page."""
    run = _dag(jobs_dir, "adhoc-report", execution_script="exit 7").test()
    assert run.state == "failed"
    [message] = saas.to("/services/T0/B0/x")
    text = message["text"]
    assert "adhoc-report" in text
    assert "failed" in text
    assert run.logical_date.isoformat() in text
    assert "*flavor:* cpu-4gb" in text
    assert "job adhoc-report exited with code 7" in text
    assert "<https://airflow.example.org/dags/adhoc-report/runs/" in text
    assert saas.to("/v2/enqueue") == []


def test_successful_jobs_send_nothing(airflow_db: Path, jobs_dir: Path, saas: StandIn) -> None:
    """A critical job that succeeds at the first try neither pages, resolves nor posts."""
    assert _dag(jobs_dir, "quiet", critical=True, execution_script="true").test().state == "success"
    assert saas.requests == []
