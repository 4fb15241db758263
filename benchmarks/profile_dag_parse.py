"""Where ours spends its DAG-parse time, next to the hand-written floor (not run by ``make bench``).

    .venv/bin/python benchmarks/profile_dag_parse.py [N] [--cprofile]

In one process, with every library already imported (and frozen out of the garbage
collector's way, as the dag-processor does), on the workload of ``bench_dag_parse``:
times each stage of the factory on N pipelines (reading and validating the specs, building the
DAGs), the same DAGs built from the validated specs with plain KubernetesPodOperator instead
of JobOperator, and the hand-written DAG file. Each stage is the best of ``REPEAT`` runs, in CPU seconds of this process.
With ``--cprofile`` it also prints the top of a cProfile of the whole factory.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import runpy
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, then this folder
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import airflow_env, temp_dir
from _workload import pipelines, write_handwritten, write_ours

REPEAT = 3


def best(what: str, n: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(REPEAT):
        gc.collect()
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    print(f"{what:<58} {min(times):7.3f} s  ({min(times) / n * 1e3:.2f} ms per DAG)")
    return min(times)


def main() -> int:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "1000"))
    folder = temp_dir("profile")
    items = pipelines(n)
    jobs = write_ours(folder / "ours", items)
    hw_entry = write_handwritten(folder / "handwritten", items)
    (folder / "home").mkdir()
    os.environ.update(airflow_env(folder / "home", folder))

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk import DAG

    from airflow_platform import dagfactory
    from airflow_platform.config import load_config
    from airflow_platform.spec.loader import parse_spec_text
    from airflow_platform.spec.yamlsafe import parse_yaml, read_text
    from airflow_platform.validation import check_document

    gc.collect()
    gc.freeze()  # as the dag-processor manager does before it forks the parse processes
    config = load_config()
    files = dagfactory.spec_files(jobs)
    texts = [(read_text(f.read_bytes(), f.name), f.name) for f in files]
    docs = [check_document(parse_spec_text(t, name), config) for t, name in texts]

    print(f"N={n} pipelines of 5 tasks; python {sys.version.split()[0]}")
    total = best("factory: load_dags (everything below)", n, lambda: dagfactory.load_dags(jobs))
    best("  list the spec files", n, lambda: dagfactory.spec_files(jobs))
    best("  read the files", n, lambda: [f.read_bytes() for f in files])
    best(
        "  YAML: parse_yaml (libyaml events; positions on demand)",
        n,
        lambda: [parse_yaml(*t) for t in texts],
    )
    spec = best(
        "  spec: parse_spec_text (YAML + models)", n, lambda: [parse_spec_text(*t) for t in texts]
    )
    best("  policy: check_document", n, lambda: [check_document(d, config) for d in docs])
    build = best(
        "  build_dag (DAG + 5 JobOperator)",
        n,
        lambda: [
            dagfactory.build_dag(d, t, jobs, config) for d, (t, _) in zip(docs, texts, strict=True)
        ],
    )

    def dag_only() -> None:
        for d in docs:
            with DAG(
                dag_id=d.spec.dag.name,  # type: ignore[union-attr]
                schedule=d.spec.dag.schedule,  # type: ignore[union-attr]
                start_date=dagfactory.START_DATE,
                catchup=False,
                default_args={"owner": "x", "retries": 1},
                params={"critical": True},
            ):
                pass

    best("    of which DAG() alone (same arguments)", n, dag_only)

    def kpo_instead() -> None:
        for d in docs:
            with DAG(
                dag_id=d.spec.dag.name,  # type: ignore[union-attr]
                schedule=d.spec.dag.schedule,  # type: ignore[union-attr]
                start_date=dagfactory.START_DATE,
                catchup=False,
                default_args={"owner": "x", "retries": 1},
                params={"critical": True},
            ):
                for task in d.tasks:
                    KubernetesPodOperator(
                        task_id=task.task_id,
                        name=task.job.name,
                        namespace=config.namespace_of(task.job.team),
                        deferrable=True,
                        get_logs=True,
                    )

    best("    the same DAGs with plain KPO tasks (no JobOperator)", n, kpo_instead)

    def no_params() -> None:
        for d in docs:
            with DAG(
                dag_id=d.spec.dag.name,  # type: ignore[union-attr]
                schedule=d.spec.dag.schedule,  # type: ignore[union-attr]
                start_date=dagfactory.START_DATE,
                catchup=False,
                default_args={"owner": "x", "retries": 1},
            ):
                for task in d.tasks:
                    KubernetesPodOperator(
                        task_id=task.task_id,
                        name=task.job.name,
                        namespace=config.namespace_of(task.job.team),
                        deferrable=True,
                        get_logs=True,
                    )

    best("    plain KPO tasks, DAG without params={'critical': ...}", n, no_params)
    hw = best(
        "hand-written DAG file (KPO with resources, from JSON)",
        n,
        lambda: runpy.run_path(str(hw_entry)),
    )
    print(
        f"ours/hand-written in-process: {total / hw:.2f}x; spec reading+validation is "
        f"{spec / total:.0%} of ours, building {build / total:.0%}"
    )
    if "--cprofile" in sys.argv:
        profile = cProfile.Profile()
        profile.runcall(dagfactory.load_dags, jobs)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
