"""Housekeeping CronJobs: `airflow db clean` with a retention, and the removal of old finished
worker and job pods under a least-privilege Role."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.chart.render import (
    FULLNAME,
    NAMESPACE,
    TEAM_NAMESPACES,
    WORKERS_NAMESPACE,
    by_kind,
    find,
    render_chart,
)

pytestmark = pytest.mark.chart

DB_CLEAN = f"{FULLNAME}-db-clean"
POD_CLEANUP = f"{FULLNAME}-pod-cleanup"


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


# Stands in for the `airflow` command at the narrowest point: Airflow 3.3.2's own CLI parser
# reads the arguments the CronJob's shell computed, so a flag Airflow does not know, or a
# cut-off it cannot parse, fails here; the database delete itself is Airflow's.
_AIRFLOW_PARSER = """#!{python}
import sys
from airflow.cli.cli_parser import get_parser
args = get_parser().parse_args(sys.argv[1:])
print(args.subcommand if hasattr(args, "subcommand") else "", args.clean_before_timestamp.isoformat(),
      args.skip_archive, args.yes)
"""


def test_db_clean_runs_daily_with_the_retention(tmp_path: Path) -> None:
    """The CronJob's command, run by a real shell with GNU date, hands Airflow's parser a
    cut-off retentionDays before now, without archiving and without a prompt."""
    docs = render_chart({"maintenance": {"dbClean": {"retentionDays": 30}}})
    cronjob = find(docs, "CronJob", DB_CLEAN, NAMESPACE)
    assert cronjob["spec"]["schedule"] == "17 3 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    container = _container(cronjob)
    env = {e["name"]: e for e in container["env"]}
    assert env["AIRFLOW_PLATFORM_DB_RETENTION_DAYS"]["value"] == "30"
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env
    stub = tmp_path / "bin" / "airflow"
    stub.parent.mkdir()
    stub.write_text(_AIRFLOW_PARSER.format(python=sys.executable))
    stub.chmod(0o755)
    proc = subprocess.run(
        container["command"],
        env={
            **os.environ,
            "PATH": f"{stub.parent}:{os.environ['PATH']}",
            "AIRFLOW_HOME": str(tmp_path / "home"),
            "AIRFLOW_PLATFORM_DB_RETENTION_DAYS": "30",
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, cutoff, skip_archive, yes = proc.stdout.split()[-4:]
    expected = datetime.now(UTC) - timedelta(days=30)
    assert abs(datetime.fromisoformat(cutoff) - expected) < timedelta(minutes=5)
    assert (skip_archive, yes) == ("True", "True")


@pytest.mark.parametrize("part", ["dbClean", "podCleanup"])
def test_housekeeping_can_be_turned_off(part: str) -> None:
    """Each CronJob, and for pod cleanup its account and Roles, goes with enabled: false."""
    docs = render_chart({"maintenance": {part: {"enabled": False}}})
    name = DB_CLEAN if part == "dbClean" else POD_CLEANUP
    assert not [d for d in docs if d["metadata"]["name"] == name]
    assert len(by_kind(docs, "CronJob")) == 1


def test_pod_cleanup_targets_worker_pods_and_every_teams_job_pods() -> None:
    """Finished worker pods of this release in the workers' namespace, and job pods in each
    team's namespace, older than maxAge."""
    docs = render_chart({"maintenance": {"podCleanup": {"maxAge": "36 hours"}}})
    command = _container(find(docs, "CronJob", POD_CLEANUP, NAMESPACE))["command"]
    assert command[:5] == ["python", "-m", "airflow_platform.podcleanup", "--max-age", "36 hours"]
    targets = [tuple(command[i + 1 : i + 3]) for i, a in enumerate(command) if a == "--target"]
    job = "app.kubernetes.io/managed-by=airflow-platform,app.kubernetes.io/component=job"
    assert targets == [
        (
            WORKERS_NAMESPACE,
            "app.kubernetes.io/instance=release,app.kubernetes.io/component=worker",
        ),
        *((ns, job) for _, ns in sorted(TEAM_NAMESPACES.items())),
    ]


def test_pod_cleanup_may_only_list_and_delete_pods_where_they_run() -> None:
    """A Role in the workers' and each team's namespace, with list and delete on pods and
    nothing else, bound to the CronJob's own service account; none in the release namespace."""
    docs = render_chart()
    roles = [r for r in by_kind(docs, "Role") if r["metadata"]["name"] == POD_CLEANUP]
    assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(
        [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()]
    )
    for role in roles:
        assert role["rules"] == [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "delete"]}
        ]
    for namespace in [WORKERS_NAMESPACE, *TEAM_NAMESPACES.values()]:
        binding = find(docs, "RoleBinding", POD_CLEANUP, namespace)
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": POD_CLEANUP, "namespace": NAMESPACE}
        ]
    spec = find(docs, "CronJob", POD_CLEANUP, NAMESPACE)["spec"]["jobTemplate"]["spec"]["template"]
    assert spec["spec"]["serviceAccountName"] == POD_CLEANUP
    assert find(docs, "ServiceAccount", POD_CLEANUP, NAMESPACE)


def test_schema_refuses_a_retention_of_zero_days() -> None:
    """Zero days would delete every row of the metadata database: refused."""
    from tests.chart.render import HelmError

    with pytest.raises(HelmError) as err:
        render_chart({"maintenance": {"dbClean": {"retentionDays": 0}}})
    assert "/maintenance/dbClean/retentionDays" in str(err.value)
