"""`AirflowClient.follow` reads a finished task's log until Airflow has its stored copy.

The Airflow API is stood in for by an httpx transport that answers as Airflow 3.3's api-server
does (its structured log content, with the group of log sources it prints first): the race it
reproduces — a run already final while the worker's log upload has not landed — cannot be
timed reliably against the real server. The platform tier's `submit --wait` test runs the real
one."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from airflow_platform import client as client_module
from airflow_platform.client import AirflowClient

pytestmark = pytest.mark.unit

RUN = "manual__1"
TASK = "run_job"


def _log(sources: list[str], events: list[str]) -> dict[str, Any]:
    header = [
        {"event": "::group::Log message source details"},
        *({"event": source} for source in sources),
        {"event": "::endgroup::"},
    ]
    lines = [{"timestamp": f"2026-12-03T00:00:0{i}Z", "event": e} for i, e in enumerate(events)]
    return {"content": header + lines}


class FakeApi:
    """Serves one finished run whose log reads come from ``log_reads`` in turn (the last one
    repeats)."""

    def __init__(self, log_reads: list[dict[str, Any]]) -> None:
        self.log_reads = log_reads
        self.log_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith(f"/dagRuns/{RUN}"):
            return httpx.Response(200, json={"state": "success"})
        if path.endswith("/taskInstances"):
            body = {"task_instances": [{"task_id": TASK, "try_number": 1}]}
            return httpx.Response(200, json=body)
        if "/logs/" in path:
            answer = self.log_reads[min(self.log_calls, len(self.log_reads) - 1)]
            self.log_calls += 1
            return httpx.Response(200, content=json.dumps(answer).encode())
        return httpx.Response(404)


def _follow(api: FakeApi) -> list[tuple[str, str]]:
    client = AirflowClient("http://airflow.test", token="t", transport=httpx.MockTransport(api))
    try:
        return list(client.follow(RUN, poll_seconds=0.01))
    finally:
        client.close()


def test_a_log_not_yet_stored_is_read_again_until_the_stored_copy_has_the_job_output() -> None:
    unreadable = "Could not read served logs: [Errno 111] Connection refused"
    api = FakeApi(
        [
            _log([unreadable], ["Executing workload"]),
            # The worker pod's own output, read through the API server: start-up lines only.
            _log(["Attempting to fetch logs from pod w-1 through kube API",
                  "Found logs through kube API"], ["Worker startup parse complete"]),
            _log([unreadable], ["Executing workload"]),
            _log([unreadable], ["Executing workload"]),
            _log(["Found logs in s3:", "  * s3://logs/dag_id=adhoc/run_id=manual__1/attempt=1.log"],
                 ["Executing workload", "hello from the job", "Task finished"]),
        ]
    )  # fmt: skip
    events = _follow(api)
    assert ("log", "hello from the job") in events
    assert events[-1] == ("state", "success")
    # Where Airflow read the log is not a line of it.
    assert not any("s3://" in text or "Could not read" in text for _, text in events)


def test_a_stored_log_is_read_only_until_it_stops_growing() -> None:
    stored = _log(["/opt/airflow/logs/attempt=1.log"], ["Executing workload", "done"])
    api = FakeApi([stored])
    events = _follow(api)
    assert [text for kind, text in events if kind == "log"] == ["Executing workload", "done"]
    # The first read, then the quiet polls: no waiting for the deadline.
    assert api.log_calls == 1 + client_module.QUIET_POLLS


def test_a_log_that_is_never_stored_ends_at_the_deadline_with_what_was_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "STORED_LOG_WAIT_SECONDS", 0.2)
    api = FakeApi([_log(["Could not read served logs: gone"], ["Executing workload"])])
    events = _follow(api)
    assert events == [("log", "Executing workload"), ("state", "success")]


def test_a_deferred_tasks_stored_log_is_read_until_the_resumed_worker_has_stored_its_part() -> None:
    """A deferred task's first worker stores its part of the log when it defers; the worker
    that resumes it reports the final state before it uploads the rest (Airflow's supervisor
    does so in that order), so a stored copy that ends at the deferral is not the whole log."""
    where = ["Found logs in s3:", "  * s3://logs/dag_id=d/run_id=manual__1/attempt=1.log"]
    first_part = ["Executing workload", "Pausing task as DEFERRED. ", "trigger d/1 starting"]
    api = FakeApi(
        [
            _log(where, first_part),
            _log(where, first_part),
            _log(where, first_part),
            _log(where, first_part),
            _log(where, first_part),
            _log(where, [*first_part, "most common word: the", "::group::Post Execute"]),
        ]
    )
    events = _follow(api)
    assert ("log", "most common word: the") in events
    assert events[-1] == ("state", "success")
