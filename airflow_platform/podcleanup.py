"""Deletes finished pods older than an age: the worker pods the KubernetesExecutor keeps when a
task fails, and job pods left behind (kept on failure, or orphaned by a lost worker).

The chart's pod-cleanup CronJob runs it in the platform image, under a service account that
may only list and delete pods in the workers' and the teams' namespaces::

    python -m airflow_platform.podcleanup --max-age "7 days" \\
        --target airflow-jobs app.kubernetes.io/component=worker \\
        --target airflow-jobs-vision app.kubernetes.io/component=job

A pod counts as finished only in phase Succeeded or Failed, so a running or pending pod is
never touched, whatever its age. Its age is measured from when its last container ended.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes.client import V1Pod

from airflow_platform.spec.durations import parse_duration

FINISHED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Target:
    """Pods to look at: a namespace and a label selector."""

    namespace: str
    selector: str


def finished_at(pod: V1Pod) -> datetime | None:
    """When the pod finished: its containers' latest end, else its start or creation time;
    None while it is not finished (so it is never deleted)."""
    status = pod.status
    if status is None or status.phase not in FINISHED_PHASES:
        return None
    statuses = [*(status.container_statuses or []), *(status.init_container_statuses or [])]
    ends = [
        s.state.terminated.finished_at
        for s in statuses
        if s.state and s.state.terminated and s.state.terminated.finished_at
    ]
    if ends:
        latest: datetime = max(ends)
        return latest
    # A pod that failed before any container ran (an image never pulled, evicted) has no end.
    fallback: datetime | None = status.start_time or pod.metadata.creation_timestamp
    return fallback


def expired(pods: Iterable[V1Pod], now: datetime, max_age: timedelta) -> list[V1Pod]:
    """The pods that finished more than ``max_age`` before ``now``."""
    out = []
    for pod in pods:
        ended = finished_at(pod)
        if ended is not None and now - ended > max_age:
            out.append(pod)
    return out


def clean(
    core: Any,
    targets: Sequence[Target],
    max_age: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> list[str]:
    """Deletes the expired pods of every target through ``core`` (a CoreV1Api); returns
    ``namespace/name`` of each. A pod already gone (another run, its controller) is no error."""
    from kubernetes.client.exceptions import ApiException

    moment = now or datetime.now(UTC)
    deleted = []
    for target in targets:
        pods = core.list_namespaced_pod(target.namespace, label_selector=target.selector).items
        for pod in expired(pods, moment, max_age):
            name = pod.metadata.name
            if not dry_run:
                try:
                    core.delete_namespaced_pod(name, target.namespace)
                except ApiException as err:
                    if err.status != 404:
                        raise
            deleted.append(f"{target.namespace}/{name}")
    return deleted


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_platform.podcleanup",
        description="Delete finished pods older than --max-age.",
    )
    parser.add_argument(
        "--max-age", required=True, help='how long a finished pod is kept, e.g. "7 days", "12h"'
    )
    parser.add_argument(
        "--target",
        nargs=2,
        action="append",
        metavar=("NAMESPACE", "SELECTOR"),
        required=True,
        help="a namespace and a label selector of the pods to consider (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The CronJob's entry point; in-cluster credentials, else the local kubeconfig."""
    args = _parser().parse_args(argv)
    try:
        max_age = parse_duration(args.max_age)
    except ValueError as err:
        print(f"--max-age: {err}", file=sys.stderr)
        return 2
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    targets = [Target(namespace, selector) for namespace, selector in args.target]
    deleted = clean(client.CoreV1Api(), targets, max_age, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for name in deleted:
        print(f"{verb} {name}")
    print(f"{verb} {len(deleted)} finished pod(s) older than {args.max_age}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
