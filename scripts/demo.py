"""`make demo`: the example normalization pipeline through real Airflow on the local runner.

Airflow runs with SQLite in `.demo/airflow` (created on first use); each job is a local process
with its flavor's time and memory limits. Prints every task's outcome, duration and log file,
where the run's artifacts are, and how many improved strains the pipeline called.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / ".demo" / "airflow"
DAG_ID = "strain-normalization"

os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Quiet: dag-factory (installed only as a benchmark peer) warns about Airflow 2 imports.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "AIRFLOW_PLATFORM_JOBS_DIR": str(ROOT / "jobs"),
        "AIRFLOW_PLATFORM_BACKEND": "local",
        # Each task's outputs: <here>/<dag>/<run id>/<task>/<try>/ (airflow_platform.artifacts).
        "AIRFLOW_PLATFORM_ARTIFACTS_DIR": str(ROOT / ".demo" / "artifacts"),
    }
)


def main() -> int:
    HOME.mkdir(parents=True, exist_ok=True)
    if not (HOME / "airflow.db").exists():
        print("Creating the demo Airflow database (SQLite, first run only)…", flush=True)
        subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    from airflow import __version__ as airflow_version
    from airflow.dag_processing.dagbag import DagBag

    from airflow_platform.artifacts import TaskArtifacts, default_root
    from airflow_platform.operators.job import local_log_path

    bag = DagBag()
    if bag.import_errors:
        print("DAG import errors:", *bag.import_errors.values(), sep="\n")
    dag = bag.dags[DAG_ID]
    print(f"Running {DAG_ID} through Airflow {airflow_version} (dag.test, local runner)…")
    run = dag.test()
    print(f"\n{DAG_ID}: run {run.run_id} → {run.state}")
    order = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
    for ti in sorted(run.get_task_instances(), key=lambda t: order[t.task_id]):
        log = local_log_path(DAG_ID, run.run_id, ti.task_id)
        print(f"  {ti.task_id:32} {ti.state!s:8} {ti.duration or 0:6.2f} s  log: {log}")
    artifacts = TaskArtifacts(default_root(), DAG_ID, run.run_id, "-").run_dir
    print(f"artifacts: {artifacts}")
    calls = sorted(artifacts.glob("call_improved_strains/*/improved_strains.csv"))
    if calls:
        import csv

        with calls[-1].open(newline="") as table:
            improved = sum(1 for _ in csv.DictReader(table))
        print(f"improved strains found: {improved} (table: {calls[-1]})")
    return 0 if run.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
