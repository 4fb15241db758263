"""One fresh process parses one DAG file the way Airflow does; prints a JSON line of timings.

    python _parse_child.py processor ENTRY MODULES   # the dag-processor: DagBag of the file,
                                                      # then serialization of every DAG
    python _parse_child.py task ENTRY MODULES DAG_ID  # the task runner: DagBag of the file
                                                      # (the parsing context is in the env)

The environment (AIRFLOW_HOME, the jobs folder, the parsing context) comes from the parent.
MODULES (comma-separated) are the libraries the entry file imports (the cncf.kubernetes
provider, the factory library); they are imported before the parse is timed.

Each phase is reported as wall seconds (``*_s``) and CPU seconds of this process
(``*_cpu_s``): ``import``, Airflow and the parse machinery; ``modules``, MODULES; ``parse``,
the DagBag of the entry file alone; ``serialize``, the serialization of its DAGs. ``gc`` counts
the garbage collections (per generation) during the parse.

As the dag-processor manager does before it forks the parse processes, the processor mode
freezes the objects of the imported Airflow (``gc.freeze()``) so that collections during the
parse do not walk them; ``BENCH_GC=0`` turns the collector off during the parse (diagnosis).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import time
from pathlib import Path


class Clock:
    """Wall and CPU time of consecutive phases."""

    def __init__(self) -> None:
        self.report: dict[str, object] = {}
        self._last = (time.perf_counter(), time.process_time())

    def lap(self, phase: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.report[f"{phase}_s"] = now[0] - self._last[0]
        self.report[f"{phase}_cpu_s"] = now[1] - self._last[1]
        self._last = now


def main() -> int:
    mode, entry, modules = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    clock = Clock()
    import structlog
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.dag_processing.processor import _serialize_dags

    if mode == "processor":
        gc.freeze()
    clock.lap("import")
    for module in filter(None, modules.split(",")):
        importlib.import_module(module)
    if os.environ.get("BENCH_GC") == "0":
        gc.disable()
    before = [g["collections"] for g in gc.get_stats()]
    clock.lap("modules")
    bag = BundleDagBag(
        dag_folder=str(entry),
        bundle_path=entry.parent,
        bundle_name="dags-folder",
        load_op_links=False,
        safe_mode=mode != "task",
    )
    clock.lap("parse")
    report = clock.report
    report.update(
        dags=len(bag.dags),
        tasks=sum(len(d.task_dict) for d in bag.dags.values()),
        import_errors=len(bag.import_errors),
        gc=[g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)],
    )
    if mode == "processor":
        serialized, errors = _serialize_dags(bag, structlog.get_logger())
        clock.lap("serialize")
        report.update(
            serialized=len(serialized), import_errors=len(bag.import_errors) + len(errors)
        )
    else:
        dag = bag.dags[sys.argv[4]]
        report["found"] = next(iter(dag.task_dict)) if dag.task_dict else None
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
