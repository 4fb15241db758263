"""The DAG factory: every spec under the jobs folder becomes an Airflow DAG.

Three promises, each tested:

- One bad spec never hides another's DAG, nor stops it being scheduled. The factory never
  raises: dags/platform_jobs.py builds every valid spec; dags/platform_spec_errors.py, which
  defines no DAG, reports the invalid ones as its import error, with the text
  `airflow-platform validate` prints, so the Airflow UI shows it and the good DAGs run.
- A task runner pays for one DAG, not all of them: with Airflow's parsing context set (a
  worker about to run one task) only the file that defines that DAG is read and built.
- Specs are data: the loader builds no objects from YAML, and nothing in a spec names code.
"""

from __future__ import annotations

import gc
import inspect
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, TaskGroup, get_parsing_context

from airflow_platform.assets import airflow_asset, airflow_schedule
from airflow_platform.backend import JOBS_DIR_ENV
from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.notifications import CALLBACKS
from airflow_platform.operators.gate import GateOperator
from airflow_platform.operators.job import JobOperator, MatrixJobOperator
from airflow_platform.operators.sensor import sensor_operator
from airflow_platform.operators.spark import SparkJobOperator
from airflow_platform.spec.assets import AssetSchedule
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import GATE_SUFFIX, Document, default_name, home_of, spec_files
from airflow_platform.spec.models import JobSpec, PipelineSpec
from airflow_platform.spec.params import ParamSpec
from airflow_platform.spec.yamlsafe import read_text
from airflow_platform.validation import validate_text

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


@dataclass
class FactoryResult:
    """The DAGs built from a jobs folder, and the files that could not be used."""

    dags: dict[str, DAG] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def error_text(self) -> str:
        return "\n".join(self.errors[file] for file in sorted(self.errors))


def jobs_dir() -> Path:
    """``$AIRFLOW_PLATFORM_JOBS_DIR``, else ``jobs/`` in the working directory."""
    return Path(os.environ.get(JOBS_DIR_ENV, "jobs"))


def _display_name(path: Path, folder: Path) -> str:
    """``jobs/vision/x.yaml``: what `airflow-platform validate jobs/` prints for the file."""
    return (Path(folder.name) / path.relative_to(folder)).as_posix()


def _dag_name(doc: Document) -> str:
    return doc.spec.name if isinstance(doc.spec, JobSpec) else doc.spec.dag.name


def _candidates(folder: Path, dag_id: str) -> Iterator[Path]:
    """Files that may define ``dag_id``, without parsing any YAML: those named after it and
    those whose text holds it, in the order of ``spec_files`` — the order that decides which
    file owns a name when two define it, so a task runner builds the very spec the
    dag-processor did."""
    needle = dag_id.encode()
    for path in spec_files(folder):
        if default_name(path.name) == dag_id:
            yield path
            continue
        try:
            if needle in path.read_bytes():
                yield path
        except OSError:  # unreadable: load_dags reports it when it reads the file
            yield path


def load_dags(
    folder: Path | None = None,
    *,
    config: PlatformConfig | None = None,
    only_dag_id: str | None = None,
    fileloc: str | None = None,
    build: bool = True,
) -> FactoryResult:
    """Builds the DAGs of every spec under ``folder`` (or just ``only_dag_id``'s); never raises.

    ``fileloc`` is the DAG file that Airflow should record for every DAG (see ``build_dag``).
    With ``build=False`` the specs are only validated: the result has their errors, no DAGs.
    """
    folder = folder or jobs_dir()
    result = FactoryResult()
    try:
        config = config or load_config()
    except SpecError as exc:
        result.errors["<platform config>"] = f"the platform config is invalid:\n{exc}"
        return result
    files: Iterable[Path] = _candidates(folder, only_dag_id) if only_dag_id else spec_files(folder)
    with _collector_paused():
        _build_all(folder, files, config, only_dag_id, fileloc if build else None, result, build)
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector while the DAGs are built, then restores it.

    Building a thousand DAGs allocates millions of objects that all stay alive (operators,
    task groups, their dicts). Allocation bursts trigger collections that walk every object
    built so far, again and again, and find nothing to free: measured on 1,000 pipelines of 5
    tasks, about a sixth of the dag-processor's parse (`benchmarks/README.md`). Reference
    counting still frees the temporaries (YAML nodes, validation scratch) at once; whatever
    cyclic garbage the build leaves is collected by the next ordinary collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build_all(
    folder: Path,
    files: Iterable[Path],
    config: PlatformConfig,
    only_dag_id: str | None,
    fileloc: str | None,
    result: FactoryResult,
    build: bool = True,
) -> None:
    owners: dict[str, str] = {}
    for path in files:
        name = _display_name(path, folder)
        try:
            text = read_text(path.read_bytes(), name)
            doc = validate_text(text, name, config, home_of(path, folder), folder=path.parent)
        except SpecError as exc:
            result.errors[name] = str(exc)
            continue
        except OSError as exc:
            result.errors[name] = f"{name}: cannot read the file: {exc.strerror}"
            continue
        dag_id = _dag_name(doc)
        if only_dag_id and dag_id != only_dag_id:
            continue
        if dag_id in owners:
            result.errors[name] = (
                f"{name}: name '{dag_id}' is already used by {owners[dag_id]}; "
                "give one of them another `name:`"
            )
            continue
        owners[dag_id] = name
        if not build:
            continue
        try:
            result.dags[dag_id] = build_dag(doc, text, path.parent, config, fileloc=fileloc)
        except Exception as exc:  # one spec that breaks the builder must not hide the others
            log.exception("building the DAG of %s failed", name)
            result.errors[name] = f"{name}: the platform could not build its DAG: {exc}"
        if only_dag_id:  # the owner is found, built or not, as the dag-processor finds it
            break


def build_dag(
    doc: Document, text: str, workdir: Path, config: PlatformConfig, *, fileloc: str | None = None
) -> DAG:
    """The DAG of one validated spec: one task per job, task groups for pipeline stages.

    ``fileloc``: the DAG file that builds it, where Airflow re-parses it to run a task (by
    default Airflow records the file that called ``DAG()``, this module).
    """
    spec = doc.spec
    info = spec if isinstance(spec, JobSpec) else spec.dag
    name, team, schedule, critical, retries = (
        info.name, info.team, info.schedule, info.critical, info.retries
    )  # fmt: skip
    # A sensor runs no pod: its job's flavor is a stand-in (spec.loader), not one it uses.
    jobs = [t.job for t in doc.tasks if t.wait_for is None] if doc.tasks else doc.jobs
    flavors = sorted({job.resource_flavor for job in jobs})
    tags = {"airflow-platform", f"team:{team}", *(f"flavor:{f}" for f in flavors)}
    if critical:
        tags.add("critical")
    kind = "job" if isinstance(spec, JobSpec) else "pipeline"
    doc_md = (
        f"**{kind}** of team **{team}**, from `{doc.file}` "
        f"({'pages the on-call' if critical else 'notifies Slack'} on failure).\n\n"
        f"```yaml\n{text.rstrip()}\n```\n"
    )
    with DAG(
        dag_id=name,
        schedule=airflow_schedule(schedule, team)
        if isinstance(schedule, AssetSchedule)
        else schedule,
        start_date=START_DATE,
        catchup=False,
        tags=tags,
        doc_md=doc_md,
        # notifications (observability): PagerDuty for critical jobs, Slack for the others
        default_args={"owner": team, "retries": retries, **CALLBACKS},
        params={"critical": critical, **airflow_params(info.params)},
    ) as dag:
        if fileloc:
            # Set inside the block: Airflow hashes a DAG by its fileloc when the block ends,
            # and a DAG whose hash changed afterwards is bagged twice.
            dag.fileloc = fileloc
        if isinstance(spec, JobSpec):
            _operator(spec, task_id=spec.name, workdir=str(workdir), config=config)
        else:
            _pipeline_tasks(doc, spec, workdir, config)
    return dag


def airflow_params(params: dict[str, ParamSpec]) -> dict[str, Param]:
    """The spec's params as Airflow Params, so the trigger form shows each with its type,
    bounds and description and Airflow checks a triggered run's values; the operator checks
    them again (``JobOperator.run_context``) before any pod exists."""
    return {
        name: Param(spec.default, description=spec.description or None, **spec.airflow_schema())
        for name, spec in params.items()
    }


def operator_class(job: JobSpec) -> type[JobOperator] | type[SparkJobOperator]:
    """SparkJobOperator for a job with a `spark:` block, JobOperator for every other job."""
    return SparkJobOperator if job.spark is not None else JobOperator


def _operator(job: JobSpec, **kwargs: Any) -> JobOperator | SparkJobOperator:
    """The job's operator; the factory has just checked the job, so the operator need not."""
    return operator_class(job)(job=job, policy_checked=True, **kwargs)


def _pipeline_tasks(
    doc: Document, spec: PipelineSpec, workdir: Path, config: PlatformConfig
) -> None:
    nodes: dict[str, Any] = {}
    gates: dict[str, GateOperator] = {}
    groups: dict[str, TaskGroup] = {}
    qualified = {task.task_id: task.qualified_id for task in doc.tasks}
    declared = {task.task_id: task.result for task in doc.tasks}
    for task in doc.tasks:
        group = groups.get(task.group)
        if group is None:
            group = groups[task.group] = TaskGroup(group_id=task.group)
        common: dict[str, Any] = {
            "task_id": task.task_id,
            "workdir": str(workdir),
            "dag_name": spec.dag.name,
            "task_group": group,
            "retries": task.job.retries,
            "trigger_rule": task.trigger_rule,
        }
        if task.outlets:
            common["outlets"] = [airflow_asset(ref, spec.dag.team) for ref in task.outlets]
        if task.result:  # never on a Spark task (the loader refuses it)
            common["result_keys"] = dict(task.result)
        if task.wait_for is not None:
            sensor_args = {
                k: common[k] for k in ("task_id", "task_group", "retries", "trigger_rule")
            }
            nodes[task.task_id] = sensor_operator(
                task.wait_for, spec.dag.team, config, outlets=common.get("outlets", []),
                **sensor_args,
            )  # fmt: skip
        elif task.matrix:
            # Mapped at run time: however many combinations, the dag-processor builds one
            # task, and the serialized DAG holds each key's values, not their product. The job
            # travels in the serialized partial arguments: as one JSON text without its defaults,
            # which Airflow's serializer copies as it is (a mapping it walks key by key).
            job = task.job.model_dump_json(exclude_defaults=True)
            nodes[task.task_id] = MatrixJobOperator.sweep(
                task.matrix, job=job, policy_checked=True, **common
            )
        else:
            nodes[task.task_id] = _operator(task.job, config=config, **common)
        if task.when is not None:
            gate = GateOperator(
                task_id=task.task_id + GATE_SUFFIX,
                task_group=group,
                condition=task.when,
                sources={name: qualified[name] for name in sorted(task.when.tasks())},
                declared={name: declared[name] for name in task.when.tasks()},
            )
            gates[task.task_id] = gate
    # Wired once every task exists: a spec may name its tasks in any order.
    for task in doc.tasks:
        for upstream in task.depends_on:
            nodes[upstream] >> nodes[task.task_id]
            if task.task_id in gates:
                nodes[upstream] >> gates[task.task_id]
        if task.task_id in gates:
            gates[task.task_id] >> nodes[task.task_id]


def dags_for_airflow(dag_file: str, folder: Path | None = None) -> dict[str, DAG]:
    """The DAG file's entry point: the DAGs to put in its globals.

    ``dag_file`` is the calling DAG file's ``__file__``: Airflow re-parses that file to run a
    task, so every DAG records it as its file.

    When a task runner parses the file to run one task, only that task's DAG is built.
    Invalid specs are only logged here: ``report_spec_errors`` (another DAG file) reports
    them, since the dag-processor marks every DAG of a file with an import error as stale and
    the scheduler then starts none of them on schedule.
    """
    only = get_parsing_context().dag_id
    result = load_dags(folder, only_dag_id=only, fileloc=dag_file)
    if result.errors:
        log.error("invalid job specs:\n%s", result.error_text())
    return result.dags


def report_spec_errors(folder: Path | None = None) -> None:
    """The entry point of the DAG file that defines no DAG: validates every spec and records
    the invalid ones as that file's import error (see ``_report_import_error``).

    Airflow 3.3's dag-processor flags every DAG of a file with an import error
    (``has_import_errors``, ``is_stale``), and the scheduler creates no scheduled run for a
    flagged DAG: reported from the file that builds the DAGs, one team's typo would stop every
    team's schedules. A file with no DAG of its own has nothing to flag.
    """
    result = load_dags(folder, build=False)
    if result.errors:
        _report_import_error(result.error_text())


def _report_import_error(text: str) -> None:
    """Records ``text`` as an import error of the DAG file being parsed.

    Raising would make Airflow drop every DAG of the file, and swallowing the error would
    hide it. Airflow 3.3's Python importer collects a file's errors in a ``DagImportResult``,
    so the factory appends its error there; the dag-processor stores it like any import error
    (UI, `airflow dags list-import-errors`, the ``dag_processing.import_errors`` metric) and
    clears it once every spec is valid. Outside the dag-processor (plain imports) the log
    line of ``dags_for_airflow`` is all.
    """
    from airflow.dag_processing.importers.base import DagImportError, DagImportResult

    frame = inspect.currentframe()
    while frame is not None:
        found = frame.f_locals.get("result")
        if isinstance(found, DagImportResult):
            found.errors.append(
                DagImportError(
                    file_path=found.file_path,
                    message=f"invalid job specs (every other spec's DAG is loaded):\n{text}",
                    error_type="invalid_spec",
                )
            )
            return
        frame = frame.f_back
