"""Which pods the pod-cleanup CronJob deletes: finished ones past their age, never running ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateTerminated,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodStatus,
)

from airflow_platform.podcleanup import _parser, expired, finished_at, main

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _pod(
    phase: str, *ends: datetime, created: datetime = NOW - 30 * DAY, started: datetime | None = None
) -> V1Pod:
    statuses = [
        V1ContainerStatus(
            name=f"c{i}",
            image="x",
            image_id="",
            ready=False,
            restart_count=0,
            state=V1ContainerState(
                terminated=V1ContainerStateTerminated(exit_code=1, finished_at=end)
            ),
        )
        for i, end in enumerate(ends)
    ]
    return V1Pod(
        metadata=V1ObjectMeta(name=f"{phase.lower()}-pod", creation_timestamp=created),
        status=V1PodStatus(phase=phase, container_statuses=statuses, start_time=started),
    )


def test_a_pod_finished_when_its_last_container_ended() -> None:
    """A sidecar ending later moves the pod's end: the latest container end counts."""
    pod = _pod("Failed", NOW - 3 * DAY, NOW - 2 * DAY)
    assert finished_at(pod) == NOW - 2 * DAY


@pytest.mark.parametrize("phase", ["Running", "Pending", "Unknown"])
def test_a_pod_that_is_not_finished_is_never_expired(phase: str) -> None:
    """However old, a running or pending pod is left alone."""
    pod = _pod(phase, NOW - 300 * DAY, created=NOW - 400 * DAY)
    assert finished_at(pod) is None
    assert expired([pod], NOW, timedelta(seconds=1)) == []


def test_only_pods_past_the_age_expire() -> None:
    """Finished a week ago goes with a 3-day age; finished an hour ago stays."""
    old, new = _pod("Succeeded", NOW - 7 * DAY), _pod("Failed", NOW - timedelta(hours=1))
    assert expired([old, new], NOW, 3 * DAY) == [old]


def test_a_pod_that_failed_before_any_container_ran_ages_from_its_start() -> None:
    """An evicted or never-pulled pod has no container end: its start (else creation) counts."""
    started = _pod("Failed", started=NOW - 5 * DAY, created=NOW - 6 * DAY)
    assert finished_at(started) == NOW - 5 * DAY
    assert finished_at(_pod("Failed", created=NOW - 6 * DAY)) == NOW - 6 * DAY
    assert expired([started], NOW, 4 * DAY) == [started]


def test_the_cronjobs_arguments_parse() -> None:
    """The chart's command line: an age and namespace/selector pairs, repeatable."""
    args = _parser().parse_args(
        [
            "--max-age", "7 days",
            "--target", "airflow-jobs", "app.kubernetes.io/component=worker",
            "--target", "airflow-jobs-vision", "app.kubernetes.io/component=job",
        ]
    )  # fmt: skip
    assert args.max_age == "7 days"
    assert args.target == [
        ["airflow-jobs", "app.kubernetes.io/component=worker"],
        ["airflow-jobs-vision", "app.kubernetes.io/component=job"],
    ]


def test_a_bad_age_fails_before_touching_the_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    """An age without a unit is refused with how to write one, exit code 2."""
    assert main(["--max-age", "7", "--target", "ns", "a=b"]) == 2
    assert "--max-age: '7' has no unit" in capsys.readouterr().err
