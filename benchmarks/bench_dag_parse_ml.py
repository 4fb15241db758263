"""What sweeps and gates cost the dag-processor: 1,000 ML pipelines against 1,000 plain ones.

The plain set is ``dag_parse``'s workload (``_workload.pipelines``: 5 tasks in two groups). The
ML set is the same 1,000 pipelines with the ML workflow features on them (``write_ours_ml``):

- ``fit_model`` is a sweep of 1,000 combinations (``matrix: {lr: [40 values], depth: [25]}``),
  which Airflow maps at run time, so the DAG still has one ``fit_model`` task;
- ``evaluate`` publishes a result (``result: {accuracy: number, …}``);
- ``publish`` is gated on it (``when: all: [accuracy >= 0.9, gain <= 0.1]``), which adds the
  gate task ``publish__when`` (so 6 tasks per DAG, not 5);
- ``extract`` is a platform task type (``operator_type: pg_to_csv`` with ``with:`` and the
  Secret of its connection) instead of a script;
- nothing else: the plain set has no ``params``, so neither has this one (their cost is
  ``dag_parse``'s to measure, not the ML features').

Both sets are written in one YAML style (``as_written``: lists in flow style, as the README
writes them) and parsed by ``dags/platform_jobs.py`` through Airflow's ``BundleDagBag`` in fresh
processes, rounds interleaved, under one platform config whose
``policy.max_matrix_combinations`` allows the 1,000-combination sweep. Times are the child's
CPU seconds for the DagBag plus serializing every DAG (what the dag-processor does per file);
the DagBag alone is printed as well.

Prints:
  dag_parse_ml: N=1000 plain_s=… ml_s=… vs_plain=…x (target <= 1.2x) parse_only_vs_plain=…x
      per_task_vs_plain=…x combinations_per_sweep=1000 tasks_per_dag_plain=5 tasks_per_dag_ml=6

``per_task_vs_plain`` divides each by its tasks per DAG: the gate is a task of its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, Run, airflow_env, median, run_child, temp_dir
from _workload import pipelines, write_ours

N = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
KPO = "airflow.providers.cncf.kubernetes.operators.pod"
LEARNING_RATES = [round(0.1 / (1 + i), 6) for i in range(40)]
DEPTHS = list(range(2, 27))
COMBINATIONS = len(LEARNING_RATES) * len(DEPTHS)
TASKS = {"plain": 5, "ml": 6}


def write_ours_ml(folder: Path, items: list[Any]) -> Path:
    """The plain specs with a typed extract, a 1,000-combination sweep, a published result
    and a gate on it."""
    jobs = write_ours(folder, items)
    for path in sorted(jobs.rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        extract = spec["tasks"]["ingest"]["extract"]
        del extract["execution_script"]
        extract["operator_type"] = "pg_to_csv"
        extract["with"] = {"table": "trips", "columns": ["trip_id", "pickup_zone", "fare"]}
        extract["secrets"] = [{"name": "trips-db", "key": "url", "env": "DATABASE_URL"}]
        model = spec["tasks"]["model"]
        model["fit_model"]["matrix"] = {"lr": LEARNING_RATES, "depth": DEPTHS}
        model["evaluate"]["result"] = {"accuracy": "number", "gain": "number"}
        model["publish"]["when"] = {
            "all": [
                {"task": "evaluate", "key": "accuracy", "op": ">=", "value": 0.9},
                {"task": "evaluate", "key": "gain", "op": "<=", "value": 0.1},
            ]
        }
        path.write_text(as_written(spec))
    return jobs


def write_plain(folder: Path, items: list[Any]) -> Path:
    """``dag_parse``'s specs, restyled as ``write_ours_ml`` writes its own."""
    jobs = write_ours(folder, items)
    for path in sorted(jobs.rglob("*.yaml")):
        path.write_text(as_written(yaml.safe_load(path.read_text())))
    return jobs


def as_written(spec: dict[str, Any]) -> str:
    """A spec as people write it: lists of plain values in flow style (``lr: [0.1, 0.01]``, as
    the README does). Block style would give each of the sweep's 65 values a line of its own,
    and the loader and the DAG's docs (the spec's text) would pay for the layout."""
    return yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100)


def platform_config(folder: Path) -> Path:
    """The packaged config with room for the benchmark's sweep."""
    config = yaml.safe_load((ROOT / "airflow_platform" / "data" / "platform.yaml").read_text())
    config["policy"]["max_matrix_combinations"] = COMBINATIONS
    path = folder / "platform.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main() -> int:
    folder = temp_dir("dag-parse-ml")
    try:
        items = pipelines(N)
        home = folder / "airflow-home"
        home.mkdir()
        config = platform_config(folder)
        entry = ROOT / "dags" / "platform_jobs.py"
        folders = {
            "plain": write_plain(folder / "plain", items),
            "ml": write_ours_ml(folder / "ml", items),
        }
        runs: dict[str, list[Run]] = {name: [] for name in folders}
        for r in range(ROUNDS):
            for name in ("plain", "ml") if r % 2 == 0 else ("ml", "plain"):
                env = airflow_env(
                    home,
                    entry.parent,
                    AIRFLOW_PLATFORM_JOBS_DIR=str(folders[name]),
                    AIRFLOW_PLATFORM_CONFIG=str(config),
                )
                run = run_child(
                    ["processor", str(entry), f"{KPO},airflow_platform.dagfactory"], env
                )
                check(name, run)
                runs[name].append(run)
                print(
                    f"# round {r + 1}/{ROUNDS} {name}: parse {run.report['parse_cpu_s']:.2f} s CPU,"
                    f" serialize {run.report['serialize_cpu_s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )

        def med(name: str, *keys: str) -> float:
            return median([sum(x.report[k] for k in keys) for x in runs[name]])

        plain = med("plain", "parse_cpu_s", "serialize_cpu_s")
        ml = med("ml", "parse_cpu_s", "serialize_cpu_s")
        parse_ratio = med("ml", "parse_cpu_s") / med("plain", "parse_cpu_s")
        print(
            f"dag_parse_ml: N={N} plain_s={plain:.2f} ml_s={ml:.2f} vs_plain={ml / plain:.2f}x"
            f" (target <= 1.2x) parse_only_vs_plain={parse_ratio:.2f}x"
            f" per_task_vs_plain={(ml / TASKS['ml']) / (plain / TASKS['plain']):.2f}x"
            f" combinations_per_sweep={COMBINATIONS} tasks_per_dag_plain={TASKS['plain']}"
            f" tasks_per_dag_ml={TASKS['ml']}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def check(name: str, run: Run) -> None:
    """Every DAG must be built, the sweep as one task (mapping waits for run time)."""
    got = run.report
    if got["dags"] != N or got["tasks"] != N * TASKS[name] or got["import_errors"]:
        raise SystemExit(
            f"{name}: expected {N} DAGs of {TASKS[name]} tasks and no import error, got {got}"
        )


if __name__ == "__main__":
    sys.exit(main())
