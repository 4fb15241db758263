"""Task-level notifications of job tasks: PagerDuty for critical jobs, Slack for the others.

The DAG factory puts these callbacks on every job task (``CALLBACKS``):

- a failed try of a **critical** job (one that will be retried, or the last one) triggers a
  PagerDuty Events API v2 event whose dedup key is stable per DAG, task and logical date
  (``dedup_key``), so every try of one run updates one incident; when a later try of that
  run succeeds, the event is **resolved**;
- the final failure of any other job posts a Slack message: status, logical date, the job's
  flavor, the failure reason (the task's one-line explanation) and a link to the log.

A job may post its own Slack message (``post_slack_webhook``), through a webhook URL it reads
from a secret: the strain-normalization pipeline's report step does.

Connections: ``$AIRFLOW_PLATFORM_PAGERDUTY_CONN_ID`` (default ``pagerduty_default``; the
integration's routing key in its password, as for the pagerduty provider; an optional host
such as ``https://events.eu.pagerduty.com`` selects the service region) and
``$AIRFLOW_PLATFORM_SLACK_CONN_ID`` (default ``slack_default``, a ``slackwebhook``
connection). A missing connection or an unreachable service is logged and never changes the
task's state: a notification failing must not turn into a task failure.

Slack goes through the slack provider's ``SlackWebhookNotifier``. PagerDuty goes through the
``pagerduty`` package's Events API v2 client, given the connection's host as its base URL
(which must be ``https://``), not through the pagerduty provider's ``PagerdutyNotifier``: its
hook passes no base URL, so it always posts to ``https://events.pagerduty.com`` and an EU
account cannot be used, and it raises on a missing connection.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

PAGERDUTY_CONN_ENV = "AIRFLOW_PLATFORM_PAGERDUTY_CONN_ID"
SLACK_CONN_ENV = "AIRFLOW_PLATFORM_SLACK_CONN_ID"
AIRFLOW_URL_ENV = "AIRFLOW_PLATFORM_AIRFLOW_URL"
PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com"
TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 3
"""HTTP attempts of one PagerDuty event (the client's retries included)."""


def _logical_date(context: Mapping[str, Any]) -> str:
    """The run's logical date in ISO form; manual runs without one use their run_after."""
    when = context.get("logical_date")
    if when is None and context.get("dag_run") is not None:
        when = getattr(context["dag_run"], "run_after", None)
    iso = getattr(when, "isoformat", None)
    return str(iso()) if iso is not None else str(when)


def dedup_key(context: Mapping[str, Any]) -> str:
    """``airflow-platform/<dag>/<task>/<logical date>``: one incident per task of a run."""
    ti = context["ti"]
    return f"airflow-platform/{ti.dag_id}/{ti.task_id}/{_logical_date(context)}"


def _job(context: Mapping[str, Any]) -> Any:
    """The task's job spec, or None (an ad-hoc run whose conf was refused has none)."""
    job_for = getattr(context.get("task"), "job_for", None)
    try:
        return job_for(context) if job_for is not None else None
    except Exception:
        return None


def _is_critical(context: Mapping[str, Any]) -> bool:
    job = _job(context)
    if job is not None:
        return bool(job.critical)
    return bool((context.get("params") or {}).get("critical"))


def log_url(context: Mapping[str, Any]) -> str:
    """The task try's log in the Airflow UI (``$AIRFLOW_PLATFORM_AIRFLOW_URL`` as its base)."""
    ti = context["ti"]
    url = str(getattr(ti, "log_url", "") or "")
    base = os.environ.get(AIRFLOW_URL_ENV, "").rstrip("/")
    if base and "/dags/" in url:
        url = base + "/dags/" + url.split("/dags/", 1)[1]
    return url


def _reason(context: Mapping[str, Any]) -> str:
    exc = context.get("exception")
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else "the task failed (no exception recorded)"


def _facts(context: Mapping[str, Any], status: str) -> dict[str, str]:
    ti = context["ti"]
    job = _job(context)
    return {
        "status": status,
        "dag": ti.dag_id,
        "task": ti.task_id,
        "try": str(getattr(ti, "try_number", "")),
        "logical_date": _logical_date(context),
        "team": job.team if job else "unknown",
        "flavor": job.resource_flavor if job else "unknown",
        "reason": _reason(context),
        "log": log_url(context),
    }


# ------------------------------------------------------------------ PagerDuty


def _pagerduty_target() -> tuple[str, str] | None:
    """(Events API base URL, routing key) from the PagerDuty connection; None when it is not
    set."""
    from airflow.sdk import BaseHook

    conn_id = os.environ.get(PAGERDUTY_CONN_ENV, "pagerduty_default")
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        log.warning("no PagerDuty event sent: connection %r is not defined", conn_id)
        return None
    if not conn.password:
        log.warning("no PagerDuty event sent: connection %r has no routing key", conn_id)
        return None
    host = (conn.host or "").rstrip("/")
    if host and "://" not in host:
        host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
    return host or PAGERDUTY_EVENTS_URL, conn.password


def send_pagerduty_event(event: dict[str, Any]) -> bool:
    """Sends one Events API v2 event (``event_action``, ``dedup_key`` and the rest of its
    properties); True when PagerDuty accepted it."""
    # Imported here: only a failing critical task pages, and the DAG files import this module.
    import pagerduty

    target = _pagerduty_target()
    if target is None:
        return False
    base_url, routing_key = target
    properties = dict(event)
    action = properties.pop("event_action")
    try:
        with pagerduty.EventsApiV2Client(routing_key, base_url=base_url) as client:
            client.timeout = int(TIMEOUT_SECONDS)
            # The client retries what PagerDuty asks to be retried (429, 5xx) with a growing
            # pause; three attempts keep a PagerDuty outage from holding the task's callback
            # for minutes.
            client.max_http_attempts = MAX_ATTEMPTS
            client.send_event(action, **properties)
    except (pagerduty.Error, pagerduty.UrlError) as exc:
        log.warning("PagerDuty event %s not sent: %s", action, exc)
        return False
    return True


def trigger_pagerduty(context: Mapping[str, Any], status: str) -> bool:
    """Triggers (or updates) the incident of this task of this run."""
    facts = _facts(context, status)
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": dedup_key(context),
        "payload": {
            "summary": f"critical job {facts['dag']}.{facts['task']} {status}: {facts['reason']}"[
                :1024
            ],
            "source": f"airflow-platform/{facts['dag']}",
            "severity": "critical",
            "component": facts["task"],
            "group": facts["team"],
            "class": "job_failure",
            "custom_details": facts,
        },
    }
    if facts["log"]:
        event["links"] = [{"href": facts["log"], "text": "task log"}]
    return send_pagerduty_event(event)


def resolve_pagerduty(context: Mapping[str, Any]) -> bool:
    """Resolves the incident a failed earlier try of this task of this run triggered."""
    return send_pagerduty_event({"event_action": "resolve", "dedup_key": dedup_key(context)})


# ------------------------------------------------------------------ Slack


def slack_text(context: Mapping[str, Any], status: str) -> str:
    """The Slack message of a failed job task."""
    f = _facts(context, status)
    lines = [
        f":red_circle: *{f['dag']}* task `{f['task']}` {status} (try {f['try']})",
        f"*logical date:* {f['logical_date']}   *team:* {f['team']}   *flavor:* {f['flavor']}",
        f"*reason:* {f['reason']}",
    ]
    if f["log"]:
        lines.append(f"<{f['log']}|task log>")
    return "\n".join(lines)


def post_slack(context: Mapping[str, Any], status: str) -> bool:
    """Posts ``slack_text`` through the slack provider's webhook notifier."""
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    conn_id = os.environ.get(SLACK_CONN_ENV, "slack_default")
    # The notifier renders its text as a Jinja template: keep the message literal.
    text = "{% raw %}" + slack_text(context, status) + "{% endraw %}"
    try:
        SlackWebhookNotifier(
            slack_webhook_conn_id=conn_id, text=text, timeout=int(TIMEOUT_SECONDS)
        )(dict(context))
    except Exception as exc:  # a notification must never fail the task's callbacks
        log.warning("Slack message not sent through connection %r: %s", conn_id, exc)
        return False
    return True


def post_slack_webhook(text: str, url: str) -> bool:
    """Posts ``text`` to a Slack incoming webhook at ``url``; True when Slack accepted it.

    For a job's own message (a pipeline's summary, say), sent from the job where no Airflow
    connection exists: the webhook URL comes from a secret the job references. Never raises,
    and never logs the URL (it is the secret): a failure is logged with its status or error
    type only.
    """
    try:
        response = httpx.post(url, json={"text": text}, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        log.warning("Slack message not sent: %s", type(exc).__name__)
        return False
    if response.is_error:
        log.warning("Slack message not sent: the webhook answered HTTP %s", response.status_code)
        return False
    return True


# ------------------------------------------------------------------ callbacks


def on_retry(context: Any) -> None:
    """A try failed and will be retried: page for a critical job (others wait for the end)."""
    if _is_critical(context):
        trigger_pagerduty(context, "failed, will retry")


def on_failure(context: Any) -> None:
    """The task failed for good: page for a critical job, else post to Slack."""
    if _is_critical(context):
        trigger_pagerduty(context, "failed")
    else:
        post_slack(context, "failed")


def on_success(context: Any) -> None:
    """A retry succeeded: resolve the incident the earlier failed try of a critical job opened."""
    ti = context["ti"]
    if _is_critical(context) and int(getattr(ti, "try_number", 1) or 1) > 1:
        resolve_pagerduty(context)


CALLBACKS: dict[str, Callable[[Any], None]] = {
    "on_retry_callback": on_retry,
    "on_failure_callback": on_failure,
    "on_success_callback": on_success,
}
"""The callbacks the DAG factory sets on every job task (as ``default_args``)."""
