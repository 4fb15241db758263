"""One fresh process parses one DAG file the way Airflow does; prints a JSON line of timings.

    python _parse_child.py processor ENTRY MODULES  # the dag-processor: DagBag of the file,
                                                     # then serialization of every DAG
    python _parse_child.py task ENTRY MODULES DAG_ID # the task runner: DagBag of the file with
                                                     # the parsing context set

The environment (AIRFLOW_HOME, the jobs folder, the parsing context) comes from the parent.
MODULES (comma-separated) are the libraries the entry file imports (the cncf.kubernetes
provider, the factory library); they are imported before the parse is timed.

Reports: ``import_s``, Airflow and the parse machinery; ``modules_s``, MODULES; ``parse_s``,
the DagBag of the entry file alone; ``serialize_s``, the serialization of its DAGs.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path


def main() -> int:
    mode, entry, modules = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    started = time.perf_counter()
    import structlog
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.dag_processing.processor import _serialize_dags

    airflow_imported = time.perf_counter()
    for module in filter(None, modules.split(",")):
        importlib.import_module(module)
    imported = time.perf_counter()
    bag = BundleDagBag(
        dag_folder=str(entry),
        bundle_path=entry.parent,
        bundle_name="dags-folder",
        load_op_links=False,
        safe_mode=mode != "task",
    )
    parsed = time.perf_counter()
    result: dict[str, object] = {
        "import_s": airflow_imported - started,
        "modules_s": imported - airflow_imported,
        "parse_s": parsed - imported,
        "dags": len(bag.dags),
        "tasks": sum(len(d.task_dict) for d in bag.dags.values()),
        "import_errors": len(bag.import_errors),
    }
    if mode == "processor":
        serialized, errors = _serialize_dags(bag, structlog.get_logger())
        result["serialize_s"] = time.perf_counter() - parsed
        result["serialized"] = len(serialized)
        result["import_errors"] = len(bag.import_errors) + len(errors)
    else:
        dag = bag.dags[sys.argv[4]]
        result["found"] = next(iter(dag.task_dict)) if dag.task_dict else None
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
