"""A small client of the Airflow 3 REST API: trigger ad-hoc runs, follow them, read logs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from airflow_platform.backend import RUNNER_DAG

RUNNER_TASK = "run_job"
TERMINAL_STATES = {"success", "failed"}
FINAL_LOG_POLLS = 20
QUIET_POLLS = 3


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

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=self.timeout)

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
        return [text for _, text in self._log_entries(run_id, task_id, try_number, dag_id)]

    def _log_entries(
        self, run_id: str, task_id: str, try_number: int, dag_id: str
    ) -> list[tuple[str, str]]:
        """(identity, text) per line of the task's log. The API's answer for a running task
        carries other source headers than for a finished one, so lines are told apart by what
        they are (their timestamp and text), not by their position."""
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/"
            f"{quote(task_id)}/logs/{try_number}"
        )
        data = self._send("GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"})  # fmt: skip
        content = data.get("content", []) if isinstance(data, dict) else []
        entries: list[tuple[str, str]] = []
        for item in content:
            if isinstance(item, dict):
                stamp = str(item.get("timestamp", ""))
                event = item.get("event")
                if event is not None and not str(event).startswith("::"):
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
        return numbered

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
        # The run's state can be final before its task's log is complete: read until the log
        # has not grown for a few polls in a row.
        quiet = 0
        for _ in range(FINAL_LOG_POLLS):
            time.sleep(poll_seconds / 2)
            new = list(self._new_log_lines(run_id, dag_id, printed))
            yield from new
            quiet = 0 if new else quiet + 1
            if quiet >= QUIET_POLLS:
                break
        yield "state", state

    def _new_log_lines(
        self,
        run_id: str,
        dag_id: str,
        printed: dict[tuple[str, int], set[str]],
    ) -> Iterator[tuple[str, str]]:
        for ti in self.task_instances(run_id, dag_id):
            try_number = int(ti.get("try_number") or 0)
            if try_number < 1:
                continue
            key = (str(ti["task_id"]), try_number)
            seen = printed.setdefault(key, set())
            for identity, text in self._log_entries(run_id, key[0], try_number, dag_id):
                if identity not in seen:
                    seen.add(identity)
                    yield "log", text
