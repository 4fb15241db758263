"""What a task runner pays to get one DAG among N: ours at N=1000, 100 and 10; dag-factory.

A worker about to run one task starts a fresh process that parses the DAG's file with Airflow's
parsing context set (``_AIRFLOW_PARSING_CONTEXT_DAG_ID`` / ``_TASK_ID``) and takes the DAG
from the DagBag. The child here does exactly that (``BundleDagBag`` with ``safe_mode=False``,
as ``airflow.sdk.execution_time.task_runner.parse`` does) and times only the DagBag of the
entry file. Median of ``ROUNDS`` fresh processes per figure, contenders interleaved. Times are
CPU milliseconds of the child (its wall time on an idle core; the machine is shared), with the
wall medians on the ``task_parse_wall`` line.

ours reads only the spec file that defines the DAG; dag-factory has no such path and builds
all N DAGs, which is what it honestly costs.

The libraries the entry file imports (the cncf.kubernetes provider, airflow_platform or
dagfactory) are imported before the timer and reported apart (``*_modules_ms``): every task of
any KubernetesPodOperator DAG pays them once per task process, whatever N is.

Prints:
  task_parse: N=1000 ours_ms=… dagfactory_ms=… ours_N10_ms=… ours_N100_ms=…
  task_parse_wall: …  the same in wall milliseconds
  task_parse_renamed: N=1000 ours_ms=…  (the DAG's file is not named after it, so every
      spec file's bytes are searched for the name, and one is parsed), then the fixed costs:
      ours_modules_ms, dagfactory_modules_ms (the libraries) and airflow_import_ms.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, Run, airflow_env, median, run_child, temp_dir
from _workload import RENAMED_MOD, pipelines, spec_file_stem, write_dagfactory, write_ours

N = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TASK_ID = "model.fit_model"
KPO = "airflow.providers.cncf.kubernetes.operators.pod"
OURS_MODULES = f"{KPO},airflow_platform.dagfactory"
DF_MODULES = f"{KPO},dagfactory"


def main() -> int:
    folder = temp_dir("task-parse")
    try:
        home = folder / "airflow-home"
        home.mkdir()
        entry = ROOT / "dags" / "platform_jobs.py"
        items = pipelines(N)
        setups = {}
        for n in (N, 100, 10):
            subset = items[:n]
            jobs = write_ours(folder / f"ours-{n}", subset)
            target = subset[n // 2]
            assert spec_file_stem(target) == target.name
            setups[f"ours_{n}"] = (entry, OURS_MODULES, target.name, jobs)
        renamed = next(p for p in items[N // 2 :] if int(p.name.split("-")[1]) % 50 == RENAMED_MOD)
        assert spec_file_stem(renamed) != renamed.name
        setups["ours_renamed"] = (
            entry,
            OURS_MODULES,
            renamed.name,
            folder / f"ours-{N}" / "jobs",
        )
        df_entry = write_dagfactory(folder / "dagfactory", items)
        setups["dagfactory"] = (
            df_entry,
            DF_MODULES,
            items[N // 2].name,
            folder / "dagfactory" / "configs",
        )

        runs: dict[str, list[Run]] = {name: [] for name in setups}
        names = list(setups)
        for r in range(ROUNDS):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                dag_file, modules, dag_id, data = setups[name]
                env = airflow_env(
                    home,
                    dag_file.parent,
                    AIRFLOW_PLATFORM_JOBS_DIR=str(data),
                    BENCH_DAGFACTORY_DIR=str(data),
                    _AIRFLOW_PARSING_CONTEXT_DAG_ID=dag_id,
                    _AIRFLOW_PARSING_CONTEXT_TASK_ID=TASK_ID,
                )
                run = run_child(["task", str(dag_file), modules, dag_id], env)
                if run.report.get("found") is None or run.report["import_errors"]:
                    raise SystemExit(f"{name}: the DAG {dag_id} was not built: {run.report}")
                runs[name].append(run)
                print(
                    f"# round {r + 1}/{ROUNDS} {name}: parse {run.report['parse_cpu_s'] * 1e3:.0f} ms"
                    f" CPU ({run.report['parse_s'] * 1e3:.0f} ms wall, {run.report['dags']} DAGs "
                    f"built), modules {run.report['modules_cpu_s']:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )

        def med(key: str) -> dict[str, float]:
            return {n: median([x.report[key] for x in runs[n]]) * 1e3 for n in setups}

        for label, ms in (("task_parse", med("parse_cpu_s")), ("task_parse_wall", med("parse_s"))):
            print(
                f"{label}: N={N} ours_ms={ms[f'ours_{N}']:.1f} dagfactory_ms={ms['dagfactory']:.0f}"
                f" ours_N10_ms={ms['ours_10']:.1f} ours_N100_ms={ms['ours_100']:.1f}"
            )
        ms, modules = med("parse_cpu_s"), med("modules_cpu_s")
        imports = median([x.report["import_cpu_s"] for n in setups for x in runs[n]]) * 1e3
        print(
            f"task_parse_renamed: N={N} ours_ms={ms['ours_renamed']:.1f} "
            f"ours_modules_ms={modules[f'ours_{N}']:.0f} dagfactory_modules_ms="
            f"{modules['dagfactory']:.0f} airflow_import_ms={imports:.0f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
