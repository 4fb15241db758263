"""The dag-processor's parse of 1,000 pipelines, three ways: ours, dag-factory 1.1, hand-written.

One deterministic set of 1,000 pipelines (5 KubernetesPodOperator-backed tasks each, in two
task groups, linear-ish dependencies, CPU, high-memory and GPU flavors) is written three ways
into a temporary folder (see ``_workload.py``):

- ours: pipeline specs read by ``dags/platform_jobs.py`` (``$AIRFLOW_PLATFORM_JOBS_DIR``),
  full validation and policy guards on;
- dagfactory: equivalent dag-factory 1.1 YAML loaded by ``dagfactory.load_yaml_dags``;
- handwritten: a DAG file building the same DAGs with KubernetesPodOperator from JSON data.

Each contender is parsed in ``ROUNDS`` fresh processes (rounds interleave the contenders so
that load from other work on the machine falls on all three alike). Inside the child, Airflow's
``BundleDagBag`` parses the entry file exactly as the dag-processor does; only that is timed
(not the interpreter start nor the import of Airflow). Times are the CPU seconds of the child
(``time.process_time``), which for this single-threaded work equal its wall time on an idle
core; the machine is shared, so wall medians are printed too (``dag_parse_wall``). Peak RSS is
the child's own ``ru_maxrss``.

The libraries each entry file imports (the cncf.kubernetes provider; airflow_platform,
dagfactory or the kubernetes client) are imported in the child before the timer starts and
reported apart: the dag-processor pre-imports the ``airflow.*`` modules a DAG file names before
it forks the parse, and the import costs the same whatever the number of specs.

Prints (each on one line):
  dag_parse: N=1000 ours_s=… dagfactory_s=… handwritten_s=… vs_dagfactory=…x vs_handwritten=…x
      ours_rss_mb=… dagfactory_rss_mb=… handwritten_rss_mb=…
  dag_parse_wall: …   the same in wall seconds
  dag_parse_full: …   the DagBag plus serializing every DAG (the rest of the dag-processor's
      per-file work)
  dag_parse_cold: …   the DagBag plus importing the entry file's libraries; and the import of
      Airflow itself in the child (airflow_import_s)
vs_dagfactory = dagfactory_s / ours_s; vs_handwritten = ours_s / handwritten_s (of medians).
Peak RSS covers the whole child (imports, DagBag and serialization).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, Run, airflow_env, median, run_child, temp_dir
from _workload import pipelines, write_dagfactory, write_handwritten, write_ours

N = 1000
TASKS = 5
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
NAMES = ("ours", "dagfactory", "handwritten")
KPO = "airflow.providers.cncf.kubernetes.operators.pod"


def main() -> int:
    folder = temp_dir("dag-parse")
    try:
        items = pipelines(N)
        home = folder / "airflow-home"
        home.mkdir()
        jobs = write_ours(folder / "ours", items)
        ours_entry = ROOT / "dags" / "platform_jobs.py"
        df_entry = write_dagfactory(folder / "dagfactory", items)
        hw_entry = write_handwritten(folder / "handwritten", items)
        setups = {
            "ours": (
                ours_entry,
                f"{KPO},airflow_platform.dagfactory",
                airflow_env(home, ours_entry.parent, AIRFLOW_PLATFORM_JOBS_DIR=str(jobs)),
            ),
            "dagfactory": (
                df_entry,
                f"{KPO},dagfactory",
                airflow_env(
                    home,
                    df_entry.parent,
                    BENCH_DAGFACTORY_DIR=str(folder / "dagfactory" / "configs"),
                ),
            ),
            "handwritten": (
                hw_entry,
                f"{KPO},kubernetes.client",
                airflow_env(home, hw_entry.parent),
            ),
        }
        runs: dict[str, list[Run]] = {name: [] for name in NAMES}
        for r in range(ROUNDS):
            order = NAMES[r % 3 :] + NAMES[: r % 3]
            for name in order:
                entry, modules, env = setups[name]
                run = run_child(["processor", str(entry), modules], env)
                check(name, run)
                runs[name].append(run)
                print(
                    f"# round {r + 1}/{ROUNDS} {name}: parse {run.report['parse_cpu_s']:.2f} s CPU "
                    f"({run.report['parse_s']:.2f} s wall), serialize "
                    f"{run.report['serialize_cpu_s']:.2f} s, modules {run.report['modules_cpu_s']:.2f}"
                    f" s, rss {run.rss_mb:.0f} MB, gc {run.report['gc']}",
                    file=sys.stderr,
                    flush=True,
                )

        def med(key: str) -> dict[str, float]:
            return {
                n: median([sum(x.report[k] for k in key.split("+")) for x in runs[n]])
                for n in NAMES
            }

        rss = {n: median([x.rss_mb for x in runs[n]]) for n in NAMES}
        print(
            line("dag_parse", med("parse_cpu_s"))
            + f" ours_rss_mb={rss['ours']:.0f} dagfactory_rss_mb={rss['dagfactory']:.0f}"
            f" handwritten_rss_mb={rss['handwritten']:.0f}"
        )
        print(line("dag_parse_wall", med("parse_s")))
        print(line("dag_parse_full", med("parse_cpu_s+serialize_cpu_s")))
        imports = median([x.report["import_cpu_s"] for n in NAMES for x in runs[n]])
        print(
            line("dag_parse_cold", med("modules_cpu_s+parse_cpu_s"))
            + f" airflow_import_s={imports:.2f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def line(label: str, s: dict[str, float]) -> str:
    return (
        f"{label}: N={N} ours_s={s['ours']:.2f} dagfactory_s={s['dagfactory']:.2f} "
        f"handwritten_s={s['handwritten']:.2f} vs_dagfactory={s['dagfactory'] / s['ours']:.2f}x "
        f"vs_handwritten={s['ours'] / s['handwritten']:.2f}x"
    )


def check(name: str, run: Run) -> None:
    """Every contender must build all N DAGs of TASKS tasks, with no import error."""
    got = run.report
    if got["dags"] != N or got["tasks"] != N * TASKS or got["import_errors"]:
        raise SystemExit(
            f"{name}: expected {N} DAGs of {TASKS} tasks and no import error, got {got}"
        )


if __name__ == "__main__":
    sys.exit(main())
