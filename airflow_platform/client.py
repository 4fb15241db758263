"""A small client of the Airflow 3 REST API: trigger ad-hoc runs, follow them, read logs."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from airflow_platform.backend import RUNNER_DAG

RUNNER_TASK = "run_job"
TERMINAL_STATES = {"success", "failed"}
# After a run ends, how long to wait for each task's stored log (the worker uploads it when its
# process exits; until then the API answers with what it could read elsewhere, often nothing).
STORED_LOG_WAIT_SECONDS = 120.0
QUIET_POLLS = 3
SOURCE_GROUP = "::group::Log message source details"
PAUSED_EVENT = "Pausing task as "
POST_EXECUTE_GROUP = "::group::Post Execute"
# How Airflow names a stored copy of a log among its sources: a remote store's handler says
# "Found logs in s3:" (gcs, wasb, …) or names the object's URL, a local file is its path. The
# worker's log server (http) and its pod's output (the executor's "… through kube API") are
# not: they hold what the worker had written, or only its start-up lines.
STORED_SOURCE = re.compile(r"^(Found logs in |/|(?!https?://)[a-z][a-z0-9+.-]*://)")


@dataclass(frozen=True)
class TaskLog:
    """One read of a task's log: its lines as (identity, text), and where Airflow read them."""

    entries: list[tuple[str, str]]
    sources: list[str]
    paused: bool = False

    @property
    def stored(self) -> bool:
        """Airflow read the log from a copy that holds all of it (the remote store, or a local
        file), not only from the worker or from places it could not reach, and that copy does
        not end where the task was deferred: a deferred task's first worker stores its part,
        and the worker that resumes it stores the rest only after the run is final."""
        return not self.paused and any(
            STORED_SOURCE.match(source.strip(" *")) for source in self.sources
        )


class ApiError(RuntimeError):
    """The Airflow API refused or could not be reached; the message says what to check."""


@dataclass
class AirflowClient:
    """Talks to one Airflow API server with a bearer token (or username and password)."""

    url: str
    token: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=self.timeout, transport=self.transport)

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        if not self.token:
            if not (self.username and self.password):
                raise ApiError(
                    "no credentials: pass --token (or $AIRFLOW_PLATFORM_API_TOKEN), or "
                    "--username/--password ($AIRFLOW_PLATFORM_API_USERNAME/_PASSWORD)"
                )
            response = self._send("POST", "/auth/token", json={"username": self.username, "password": self.password}, auth=False)  # fmt: skip
            self.token = str(response["access_token"])
        return {"Authorization": f"Bearer {self.token}"}

    def _send(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> Any:
        headers = {**(self._headers() if auth else {}), **kwargs.pop("headers", {})}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"cannot reach the Airflow API at {self.url}: {exc} "
                "(check --url or $AIRFLOW_PLATFORM_API_URL)"
            ) from None
        if response.status_code == 401:
            raise ApiError(
                f"the Airflow API at {self.url} refused the credentials (401): check --token "
                "($AIRFLOW_PLATFORM_API_TOKEN) or --username/--password"
            )
        if response.status_code == 403:
            raise ApiError(
                f"the Airflow API at {self.url} does not allow this user to {method} {path} "
                "(403): ask an Airflow admin for the role that may trigger and read runs"
            )
        if response.status_code >= 400:
            raise ApiError(
                f"{method} {path} failed with {response.status_code}: {response.text[:500]}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"{method} {path}: {self.url} did not answer with JSON; is --url "
                "($AIRFLOW_PLATFORM_API_URL) the Airflow API server?"
            ) from None

    def trigger(self, conf: dict[str, Any], dag_id: str = RUNNER_DAG) -> str:
        """Starts a run of ``dag_id`` with ``conf``; returns its run id."""
        body = {"logical_date": None, "conf": conf}
        run = self._send("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def run(self, run_id: str, dag_id: str = RUNNER_DAG) -> dict[str, Any]:
        result: dict[str, Any] = self._send(
            "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}"
        )
        return result

    def task_instances(self, run_id: str, dag_id: str = RUNNER_DAG) -> list[dict[str, Any]]:
        data = self._send(
            "GET", f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances"
        )
        return list(data.get("task_instances", []))

    def log_lines(
        self, run_id: str, task_id: str, try_number: int, dag_id: str = RUNNER_DAG
    ) -> list[str]:
        """The task's log so far, one string per line."""
        return [text for _, text in self._read_log(run_id, task_id, try_number, dag_id).entries]

    def _read_log(self, run_id: str, task_id: str, try_number: int, dag_id: str) -> TaskLog:
        """The task's log lines, each with an identity, and its sources. The API's answer for a
        running task carries other source headers than for a finished one, so lines are told
        apart by what they are (their timestamp and text), not by their position."""
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/"
            f"{quote(task_id)}/logs/{try_number}"
        )
        data = self._send("GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"})  # fmt: skip
        content = data.get("content", []) if isinstance(data, dict) else []
        entries: list[tuple[str, str]] = []
        sources: list[str] = []
        in_sources = False
        paused = False
        for item in content:
            if isinstance(item, dict):
                stamp = str(item.get("timestamp", ""))
                event = item.get("event")
                # The task runner's markers: it pauses a try it defers, and ends every try it
                # finishes with a "Post Execute" group.
                if str(event).startswith(PAUSED_EVENT):
                    paused = True
                elif event == POST_EXECUTE_GROUP:
                    paused = False
                if event == SOURCE_GROUP or (in_sources and event == "::endgroup::"):
                    in_sources = event == SOURCE_GROUP
                elif in_sources:
                    sources.append(str(event))
                elif event is not None and not str(event).startswith("::"):
                    entries.append((f"{stamp}|{event}", str(event)))
                # A failure's reason travels in the structured exception, not in the event text.
                for detail in item.get("error_detail") or []:
                    if isinstance(detail, dict) and detail.get("exc_value"):
                        text = f"{detail.get('exc_type', 'Error')}: {detail['exc_value']}"
                        entries.append((f"{stamp}|{text}", text))
            else:
                entries += [(line, line) for line in str(item).splitlines()]
        # The same line twice (a job may print it twice) stays two lines.
        occurrences: dict[str, int] = {}
        numbered = []
        for identity, text in entries:
            occurrences[identity] = occurrences.get(identity, 0) + 1
            numbered.append((f"{identity}#{occurrences[identity]}", text))
        return TaskLog(numbered, sources, paused)

    def run_url(self, run_id: str, dag_id: str = RUNNER_DAG) -> str:
        return f"{self.url}/dags/{quote(dag_id)}/runs/{quote(run_id)}"

    def follow(
        self, run_id: str, dag_id: str = RUNNER_DAG, poll_seconds: float = 2.0
    ) -> Iterator[tuple[str, str]]:
        """Yields ``("log", line)`` as the tasks log and finally ``("state", state)``."""
        printed: dict[tuple[str, int], set[str]] = {}
        while True:
            state = str(self.run(run_id, dag_id)["state"])
            yield from self._new_log_lines(run_id, dag_id, printed)
            if state in TERMINAL_STATES:
                break
            time.sleep(poll_seconds)
        # The run's state is final before its tasks' logs are stored: until then the API has
        # only what it could read elsewhere. Read until every log is stored, then until it has
        # not grown for a few polls in a row.
        deadline = time.monotonic() + STORED_LOG_WAIT_SECONDS
        stored: set[tuple[str, int]] = set()
        quiet = 0
        while quiet < QUIET_POLLS and time.monotonic() < deadline:
            time.sleep(poll_seconds / 2)
            new = list(self._new_log_lines(run_id, dag_id, printed, stored))
            yield from new
            all_stored = stored >= printed.keys()
            quiet = quiet + 1 if all_stored and not new else 0
        yield "state", state

    def _new_log_lines(
        self,
        run_id: str,
        dag_id: str,
        printed: dict[tuple[str, int], set[str]],
        stored: set[tuple[str, int]] | None = None,
    ) -> Iterator[tuple[str, str]]:
        for ti in self.task_instances(run_id, dag_id):
            try_number = int(ti.get("try_number") or 0)
            if try_number < 1:
                continue
            key = (str(ti["task_id"]), try_number)
            seen = printed.setdefault(key, set())
            log = self._read_log(run_id, key[0], try_number, dag_id)
            if stored is not None and log.stored:
                stored.add(key)
            for identity, text in log.entries:
                if identity not in seen:
                    seen.add(identity)
                    yield "log", text
