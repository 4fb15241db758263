"""The `airflow-platform` command: validate, render, run, submit, init, flavors and schema."""

from __future__ import annotations

import io
import json
import os
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airflow_platform.backend import JOBS_DIR_ENV, RUNNER_DAG

# Start-up is what a scientist feels on every `validate` (editors and pre-commit hooks run it
# per save): each command imports what it needs inside its body, so `validate`, `flavors`,
# `schema` and `--help` never load the Kubernetes client (seconds), httpx, psutil or Airflow.
# tests/unit/test_cli_startup.py guards this.
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from rich.console import Console

    from airflow_platform.artifacts import TaskArtifacts
    from airflow_platform.config import PlatformConfig
    from airflow_platform.pods import RunContext
    from airflow_platform.runners.local import LocalResult
    from airflow_platform.spec.loader import Document
    from airflow_platform.spec.models import JobSpec, PipelineTask, Spec
    from airflow_platform.spec.params import ParamSpec, Value

app = typer.Typer(
    name="airflow-platform",
    help="Validate, render and run job specs on the airflow-platform.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


class _LazyConsole:
    """A rich console made on first use: plain lines go through ``typer.echo``, so the
    commands that print only text (`validate`, `schema`) never import rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def echo(self, text: str) -> None:
        typer.echo(text, err=self._stderr)

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return getattr(self._console, name)


out = _LazyConsole(stderr=False)
err = _LazyConsole(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Platform config file (default: $AIRFLOW_PLATFORM_CONFIG, else the packaged default).",
        dir_okay=False,
    ),
]


ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        help="Override a param: name=value (repeatable); a list as a,b or JSON [1, 2].",
    ),
]


MAX_RUN_ID = 250
"""The longest run id Airflow stores (its ``run_id`` column)."""


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


class SchemaKind(StrEnum):
    all = "all"
    job = "job"
    pipeline = "pipeline"


def _config(path: Path | None) -> PlatformConfig:
    from airflow_platform.config import load_config
    from airflow_platform.spec.errors import SpecError

    try:
        return load_config(path)
    except SpecError as exc:
        err.print(f"[bold red]invalid platform config[/]\n{exc}", markup=True)
        raise typer.Exit(2) from None


def _spec_files(paths: list[Path]) -> list[Path]:
    from airflow_platform.spec.loader import NOT_A_SPEC, marked_not_a_spec, spec_files

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += spec_files(path)
        elif path.exists() and marked_not_a_spec(path):
            err.echo(f"{path}: skipped, it is marked `{NOT_A_SPEC}`")
        elif path.exists():
            files.append(path)
        else:
            err.print(f"error: {path}: no such file or folder")
            raise typer.Exit(2)
    return files


def _load_one(spec: Path, config: PlatformConfig) -> Document:
    from airflow_platform.spec.errors import SpecError
    from airflow_platform.validation import validate_file

    if not spec.is_file():
        err.print(f"error: {spec}: no such file")
        raise typer.Exit(2)
    try:
        return validate_file(spec, config)
    except SpecError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None


@app.command(epilog="Example: airflow-platform validate jobs/  (or: --format json jobs/a.yaml)")
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Spec files or folders (searched for *.yaml and *.yml; a file whose first "
            "line is `# airflow-platform: not-a-spec`, or whose second is after a "
            "`# yaml-language-server: $schema=...` modeline, is skipped)."
        ),
    ],
    output: Annotated[OutputFormat, typer.Option("--format", help="text, or json for bots.")] = (
        OutputFormat.text
    ),
    config_path: ConfigOption = None,
) -> None:
    """Check specs against the format, the flavor catalog and the policy.

    Every problem of every file is reported. Exit status: 0 all valid, 1 some invalid,
    2 usage error (a path that does not exist, a broken platform config).
    """
    from airflow_platform.spec.errors import SpecError
    from airflow_platform.spec.models import JobSpec
    from airflow_platform.validation import validate_file

    config = _config(config_path)
    files = _spec_files(paths)
    if not files:
        if all(p.is_file() for p in paths):  # every file named was marked not a spec
            raise typer.Exit(0)
        err.echo(f"error: no *.yaml or *.yml spec files under {', '.join(map(str, paths))}")
        raise typer.Exit(2)
    results: list[dict[str, object]] = []
    errors: list[SpecError] = []
    for file in files:
        try:
            doc = validate_file(file, config)
        except SpecError as exc:
            errors.append(exc)
            results.append(
                {
                    "file": str(file),
                    "valid": False,
                    "problems": [p.to_dict() for p in exc.problems],
                }
            )
            if output is OutputFormat.text:
                out.echo(str(exc))
            continue
        kind = "job" if isinstance(doc.spec, JobSpec) else "pipeline"
        results.append({"file": str(file), "valid": True, "kind": kind, "problems": []})
    if output is OutputFormat.json:
        out.echo(json.dumps({"valid": not errors, "files": results}, indent=2))
    else:
        summary = f"{len(files)} file{'s' * (len(files) != 1)} checked"
        if errors:
            problems = sum(len(e.problems) for e in errors)
            err.echo(f"{summary}: {len(errors)} invalid, {problems} problem(s)")
        else:
            err.echo(f"{summary}: all valid")
    raise typer.Exit(1 if errors else 0)


@app.command(epilog="Example: airflow-platform render jobs/vision/train-classifier.yaml")
def render(
    spec: Annotated[Path, typer.Argument(help="A job or pipeline spec.")],
    task: Annotated[str | None, typer.Option(help="Only this pipeline task.")] = None,
    config_path: ConfigOption = None,
) -> None:
    """Print the pod YAML the platform would create (one document per pipeline task)."""
    from airflow_platform.pods import RunContext
    from airflow_platform.spec.models import JobSpec

    config = _config(config_path)
    doc = _load_one(spec, config)
    if isinstance(doc.spec, JobSpec):
        out.print(_render_job(doc.spec, config, None), end="", markup=False)
        return
    tasks = [t for t in doc.ordered_tasks() if task in (None, t.task_id)]
    if not tasks:
        err.print(
            f"error: no task '{task}' in {spec}; tasks: {', '.join(t.task_id for t in doc.tasks)}"
        )
        raise typer.Exit(2)
    docs = [
        f"# task {t.qualified_id}\n"
        + _render_job(t.job, config, RunContext(dag_id=doc.spec.dag.name, task_id=t.qualified_id))
        for t in tasks
    ]
    out.print("---\n".join(docs), end="", markup=False)


def _render_job(job: JobSpec, config: PlatformConfig, context: RunContext | None) -> str:
    """A job's pod; for a Spark job its submission and driver and executor pod templates."""
    from airflow_platform.pods import build_pod, pod_to_yaml
    from airflow_platform.spark import render_submission

    if job.spark is not None:
        return render_submission(job, config, context)
    return pod_to_yaml(build_pod(job, config, context))


@app.command(epilog="Example: airflow-platform flavors  (or: flavors --format json)")
def flavors(
    output: Annotated[OutputFormat, typer.Option("--format", help="text, or json for bots.")] = (
        OutputFormat.text
    ),
    config_path: ConfigOption = None,
) -> None:
    """List the flavor catalog: CPU, memory, GPUs, longest run, start-up allowance (how long a
    pod may wait for capacity) and the teams that may use each."""
    config = _config(config_path)
    rows = [_flavor_row(name, config) for name in config.flavor_names()]
    if output is OutputFormat.json:
        out.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Resource flavors")
    # A name, a quantity or a GPU model is what a scientist copies into a spec or a ticket:
    # no cell is ever cut or wrapped inside a word.
    for column in ("flavor", "cpu", "memory", "gpu", "max time", "start-up", "teams"):
        table.add_column(column, no_wrap=True)
    table.add_column("description")
    lines = []
    for row in rows:
        cells = _flavor_cells(row)
        table.add_row(*cells)
        lines.append(
            f"{cells[0]}: cpu {cells[1]}, memory {cells[2]}, gpu {cells[3]}, max time "
            f"{cells[4]}, start-up {cells[5]}, teams {cells[6]}"
            + (f" — {cells[7]}" if cells[7] else "")
        )
    # Rendered at its natural width; piped (a file, grep, a CI log) it is printed whole, and a
    # terminal too narrow for it gets one line per flavor instead of cells cut mid-word.
    wide = Console(highlight=False, width=10_000, record=True, file=io.StringIO())
    wide.print(table)
    text = wide.export_text()
    width = max(map(len, text.splitlines()))
    if out.is_terminal and width > out.width:
        out.echo("\n".join(lines))
    else:
        out.echo(text.rstrip("\n"))


@app.command(epilog="Example: airflow-platform queues  (or: queues --format json)")
def queues(
    output: Annotated[OutputFormat, typer.Option("--format", help="text, or json for bots.")] = (
        OutputFormat.text
    ),
    config_path: ConfigOption = None,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster/--no-cluster",
            help="Read each team's Kueue LocalQueue (current use, jobs waiting) from the cluster "
            "of $KUBECONFIG; with --no-cluster, the quotas only.",
        ),
    ] = True,
) -> None:
    """Each team's quota and, with Kueue on and a cluster reachable, what its jobs use now and
    how many wait for quota (docs/kueue.md)."""
    from airflow_platform import kueue

    config = _config(config_path)
    queues_of: dict[str, dict[str, Any] | None] = {team: None for team in config.teams}
    note = ""
    if cluster and config.kueue.enabled:
        try:
            from kubernetes import config as kube_config

            api_client = kube_config.new_client_from_config()
            try:
                for team in config.teams:
                    queues_of[team] = kueue.read_local_queue(
                        api_client, config.namespace_of(team), config.kueue.local_queue
                    )
            finally:
                api_client.close()
        except Exception as exc:  # no cluster here is an answer, not a crash
            note = f"(quotas only: the cluster could not be read: {str(exc).splitlines()[0]})"
    elif not config.kueue.enabled:
        note = "(Kueue is off in this platform config: quotas are ResourceQuotas, nothing queues)"
    rows = [kueue.queue_summary(team, config, queues_of[team]) for team in config.teams]
    if output is OutputFormat.json:
        out.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        quota = ", ".join(f"{k} {v}" for k, v in row["quota"].items()) or "none"
        line = f"{row['team']} ({row['namespace']}): quota {quota}"
        if "uses" in row:
            uses = ", ".join(f"{k} {v}" for k, v in row["uses"].items()) or "nothing"
            line += f"; uses {uses}; {row['admitted']} admitted, {row['waiting']} waiting"
        out.echo(line)
    if note:
        err.echo(note)


def _flavor_cells(row: dict[str, Any]) -> list[str]:
    gpu = row["gpu"]
    return [
        row["name"],
        row["cpu"],
        row["memory"],
        f"{gpu['count']}× {gpu['product'] or gpu['resource']}" if gpu else "-",
        row["max_time"],
        row["startup_allowance"],
        "all" if row["all_teams"] else ", ".join(row["teams"]),
        row["description"],
    ]


def _flavor_row(name: str, config: PlatformConfig) -> dict[str, Any]:
    """One flavor as `flavors --format json` prints it (the table shows the same)."""
    from airflow_platform.spec.durations import format_duration

    flavor = config.flavors[name]
    limit = min(
        flavor.max_execution_time or config.policy.max_execution_time,
        config.policy.max_execution_time,
    )
    gpu = flavor.gpu
    return {
        "name": name,
        "cpu": flavor.cpu,
        "memory": flavor.memory,
        "gpu": (
            {"count": gpu.count, "resource": gpu.resource, "product": gpu.product} if gpu else None
        ),
        "max_time": format_duration(limit),
        "max_time_seconds": int(limit.total_seconds()),
        "startup_allowance": format_duration(flavor.startup_allowance),
        "startup_allowance_seconds": int(flavor.startup_allowance.total_seconds()),
        "teams": list(flavor.teams) if flavor.teams is not None else sorted(config.teams),
        "all_teams": flavor.teams is None,
        "description": flavor.description,
    }


@app.command(
    epilog="Example: airflow-platform run --local jobs/analytics/strain-normalization.yaml"
)
def run(
    spec: Annotated[Path, typer.Argument(help="A job or pipeline spec.")],
    local: Annotated[
        bool, typer.Option("--local", help="Run here as a local process (the only mode of `run`).")
    ] = False,
    task: Annotated[str | None, typer.Option(help="Only this pipeline task.")] = None,
    param: ParamOption = None,
    artifacts: Annotated[
        Path | None,
        typer.Option(
            "--artifacts",
            help="Root folder of the run's artifacts, laid out <root>/<dag>/<run id>/<task>/"
            "<try>/ (default: $AIRFLOW_PLATFORM_ARTIFACTS_DIR, else "
            "~/.cache/airflow-platform/artifacts).",
            file_okay=False,
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Run under this id (default: a new local__… id); with --task, reuses the "
            "outputs its upstream tasks kept in that run.",
        ),
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Run a job (or every task of a pipeline, in order) as a local process.

    The script runs in the spec's folder with the env its pod would get; `execution_time` and
    the flavor's memory are enforced. The docker image is NOT used. The run's logical date is
    now; each task's outputs are kept under --artifacts. A pipeline takes Airflow's branches:
    each task runs as its trigger rule and `when:` say, a sweep once per combination. Exits
    with the job's exit code (a pipeline: the first failing task's).
    """
    from airflow_platform.artifacts import TaskArtifacts, default_root
    from airflow_platform.pods import RunContext
    from airflow_platform.runners.pipeline import run_pipeline
    from airflow_platform.spec.models import PipelineSpec, PipelineTask

    if not local:
        err.print(
            "error: `run` needs --local (to run on the cluster use `airflow-platform submit`)"
        )
        raise typer.Exit(2)
    config = _config(config_path)
    doc = _load_one(spec, config)
    cwd = spec.resolve().parent
    if isinstance(doc.spec, PipelineSpec):
        dag, declared = doc.spec.dag.name, doc.spec.dag.params
        tasks = [t for t in doc.ordered_tasks() if task in (None, t.task_id)]
        if not tasks:
            err.print(f"error: no task '{task}' in {spec}")
            raise typer.Exit(2)
    else:
        dag, declared = doc.spec.name, doc.spec.params
        tasks = [PipelineTask("", doc.spec.name, doc.spec, ())]
    values = _param_values(spec, declared, param)
    if run_id is not None and not 0 < len(run_id) <= MAX_RUN_ID:
        err.echo(f"error: --run-id must be 1 to {MAX_RUN_ID} characters (Airflow's limit)")
        raise typer.Exit(2)
    now = datetime.now(UTC).replace(microsecond=0)
    run_id = run_id or f"local__{now.strftime('%Y%m%dT%H%M%SZ')}_{secrets.token_hex(2)}"
    root = (artifacts or default_root()).absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.echo(f"error: cannot make the artifacts folder {root}: {exc.strerror or exc}")
        raise typer.Exit(2) from None
    err.print(f"run {run_id} of {dag}, logical date {now.isoformat()}")
    team = doc.jobs[0].team if doc.jobs else ""
    _say_asset_schedule(doc.spec)
    run_dir = TaskArtifacts(root, dag, run_id, "").run_dir

    def run_one(
        t: PipelineTask, map_index: int | None, combination: Mapping[str, str] | None
    ) -> LocalResult:
        label = t.qualified_id if t.group else t.task_id
        if combination is not None:
            shown = ", ".join(f"{k.upper()}={v}" for k, v in combination.items())
            label += f"[{map_index}] ({shown})"
        context = RunContext(
            dag_id=dag, task_id=t.task_id, run_id=run_id, try_number=1, logical_date=now,
            data_interval_start=now, data_interval_end=now, params=values,
            map_index=map_index, matrix=combination,
        )  # fmt: skip
        where = TaskArtifacts(root, dag, run_id, t.task_id, 1, t.depends_on, map_index)
        try:
            if t.wait_for is not None:
                return _wait_one(label, t, team, config, root)
            ended = _run_one(label, t.job, config, cwd, context, where, t.result)
            if ended.succeeded:
                _say_outlets(t, team)
            return ended
        except OSError as exc:
            # The task's folders could not be made or written (a full disk, a read-only
            # folder, a name too long for the file system): one line, not a traceback.
            place = f" {exc.filename}" if exc.filename else ""
            err.echo(f"error: {label}: cannot run it here:{place}: {exc.strerror or exc}")
            raise typer.Exit(2) from None

    outcome = run_pipeline(
        tasks, run_one, lambda line: err.print(line, markup=False), whole=task is None
    )
    err.print(f"artifacts of run {run_id}: {run_dir}")
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _say_asset_schedule(spec: Spec) -> None:
    from airflow_platform.spec.assets import AssetSchedule
    from airflow_platform.spec.models import PipelineSpec

    if isinstance(spec, PipelineSpec) and isinstance(spec.dag.schedule, AssetSchedule):
        names = ", ".join(_asset_names(spec.dag.schedule.refs(), spec.dag.team))
        err.print(
            f"  scheduled on assets ({spec.dag.schedule.operator} of {names}): run now, by hand",
            markup=False,
        )


def _asset_names(refs: Iterable[tuple[Any, str]], team: str) -> list[str]:
    from airflow_platform.spec.assets import resolve

    return [resolve(ref, team).shown for _, ref in refs]


def _say_outlets(task: PipelineTask, team: str) -> None:
    """A local run emits no asset event (there is no Airflow): it says what it would update."""
    for name in _asset_names((((), ref) for ref in task.outlets), team):
        err.print(f"  ◆ asset updated: {name} (an asset event on Airflow)", markup=False)


def _wait_one(
    label: str, task: PipelineTask, team: str, config: PlatformConfig, root: Path
) -> LocalResult:
    from airflow_platform.assets import local_sensor_path
    from airflow_platform.runners.sensor import wait_locally

    assert task.wait_for is not None
    err.print(f"[bold]▶ {label}[/]: sensor, polling the local store", markup=True)
    path = local_sensor_path(task.wait_for, team, config, root)
    result = wait_locally(task.wait_for, path, lambda line: err.print(line, markup=False))
    colour = "green" if result.succeeded else "red"
    err.print(
        f"[{colour}]■ {label}: {result.reason}[/] in {result.duration_seconds:.1f} s", markup=True
    )
    if result.detail:
        err.print(f"  {result.detail}", markup=False)
    if result.succeeded:
        _say_outlets(task, team)
    return result


def _param_values(
    spec: Path, declared: dict[str, ParamSpec], given: list[str] | None
) -> dict[str, Value]:
    """The run's param values, checked against their types before anything runs."""
    from airflow_platform.spec.params import ParamError, parse_overrides, resolve

    try:
        return resolve(declared, parse_overrides(given or []))
    except ParamError as exc:
        err.print(f"error: {spec}: {exc}", markup=False)
        raise typer.Exit(2) from None


def _run_one(
    label: str,
    job: JobSpec,
    config: PlatformConfig,
    cwd: Path,
    context: RunContext,
    artifacts: TaskArtifacts,
    result_keys: Mapping[str, str],
) -> LocalResult:
    from airflow_platform.config import format_memory
    from airflow_platform.runners.local import MEMORY_MECHANISM, run_local
    from airflow_platform.spec.durations import format_duration

    flavor = config.flavors[job.resource_flavor]
    err.print(
        f"[bold]▶ {label}[/]: running locally in {cwd} — the image {job.docker_image} is NOT used; "
        f"the script runs with this machine's tools.\n"
        f"  limits: time {format_duration(job.execution_time)} (enforced), memory {flavor.memory} "
        f"({MEMORY_MECHANISM})",
        markup=True,
    )
    for warning in local_warnings(job, config):
        err.echo(f"  warning: {warning}")
    result = run_local(
        job, config, cwd=cwd, context=context, artifacts=artifacts, result=result_keys
    )
    for name in result.missing_secrets:
        err.echo(f"  warning: secret env {name} is not set locally; export it to test with it")
    colour = "green" if result.succeeded else "red"
    err.print(
        f"[{colour}]■ {label}: {result.reason}, exit {result.exit_code}[/] in "
        f"{result.duration_seconds:.1f} s; peak memory {format_memory(result.peak_memory_bytes)} "
        f"of {flavor.memory}; cpu {result.cpu_seconds:.1f} s",
        markup=True,
    )
    if result.detail:
        err.print(f"  {result.detail}", markup=False)
    if result.reason == "OOMKilled":
        err.echo(f"  {_out_of_memory_advice(job, config)}")
    return result


def local_warnings(job: JobSpec, config: PlatformConfig) -> list[str]:
    """What a local run cannot give the job that its pod would get: the flavor's GPUs, or a
    memory limit larger than this machine has."""
    import psutil

    from airflow_platform.config import format_memory, parse_memory

    flavor = config.flavors[job.resource_flavor]
    warnings = []
    if flavor.gpu is not None:
        gpus = f"{flavor.gpu.count}× {flavor.gpu.product or flavor.gpu.resource}"
        warnings.append(
            f"flavor {job.resource_flavor} has {gpus}, but no GPU is attached to a local run: "
            "code that needs one fails or falls back to the CPU here; test on the platform "
            "(`airflow-platform submit`) for the GPU"
        )
    machine = psutil.virtual_memory().total
    if parse_memory(flavor.memory) > machine:
        warnings.append(
            f"flavor {job.resource_flavor}'s memory limit of {flavor.memory} is more than this "
            f"machine has ({format_memory(machine)}): the limit cannot be reached here, the "
            "machine runs out of memory first"
        )
    return warnings


def _out_of_memory_advice(job: JobSpec, config: PlatformConfig) -> str:
    from airflow_platform.failures import bigger_flavor

    bigger = bigger_flavor(job, config)
    memory = config.flavors[job.resource_flavor].memory
    if bigger:
        return (
            f"out of memory: the job used more than flavor {job.resource_flavor}'s {memory}; "
            f"try resource_flavor: {bigger} ({config.flavors[bigger].memory})"
        )
    return (
        f"out of memory: the job used more than flavor {job.resource_flavor}'s {memory}, and no "
        f"flavor team {job.team} may use has more; use less memory, or ask the platform team "
        "for a bigger flavor"
    )


UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="AIRFLOW_PLATFORM_API_URL", help="Airflow API server URL."),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="AIRFLOW_PLATFORM_API_TOKEN", help="API bearer token."),
]
UserOption = Annotated[
    str | None,
    typer.Option("--username", envvar="AIRFLOW_PLATFORM_API_USERNAME", help="API user."),
]
PasswordOption = Annotated[
    str | None,
    typer.Option("--password", envvar="AIRFLOW_PLATFORM_API_PASSWORD", help="API password."),
]


@app.command(
    epilog="Example: AIRFLOW_PLATFORM_API_URL=http://localhost:8080 "
    "airflow-platform submit jobs/nlp/count-tokens.yaml --wait"
)
def submit(
    spec: Annotated[Path, typer.Argument(help="A job spec (one `job:`).")],
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run, stream its log.")] = False,
    param: ParamOption = None,
    url: UrlOption = "http://localhost:8080",
    token: TokenOption = None,
    username: UserOption = None,
    password: PasswordOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Run a job spec on the platform now, through Airflow's REST API.

    The spec is validated here first, then again by the platform before any pod is created.
    Prints the run's URL; with --wait, streams the job's log and exits 0 if it succeeded,
    1 if it failed.
    """
    from airflow_platform.client import AirflowClient, ApiError
    from airflow_platform.spec.models import JobSpec

    config = _config(config_path)
    doc = _load_one(spec, config)
    if not isinstance(doc.spec, JobSpec):
        err.print(
            f"error: {spec} is a pipeline; `submit` runs one job (trigger pipelines in Airflow)"
        )
        raise typer.Exit(2)
    values = _param_values(spec, doc.spec.params, param)
    client = AirflowClient(url, token=token, username=username, password=password)
    try:
        run_id = client.trigger(
            {
                "spec": {"job": doc.spec.model_dump(mode="json")},
                "source": _source(spec),
                "params": values,
            }
        )
        out.print(f"submitted {doc.spec.name}: run {run_id}", markup=False)
        out.print(client.run_url(run_id), markup=False)
        if not wait:
            return
        state = "failed"
        for kind, value in client.follow(run_id):
            if kind == "log":
                out.print(value, markup=False)
            else:
                state = value
    except ApiError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    finally:
        client.close()
    err.print(f"run {run_id}: {state}")
    raise typer.Exit(0 if state == "success" else 1)


def _source(spec: Path) -> str:
    """The spec's path inside the jobs folder, so a local-backend run finds its code."""
    root = Path(os.environ.get(JOBS_DIR_ENV, "jobs")).resolve()
    try:
        return spec.resolve().relative_to(root).as_posix()
    except ValueError:
        return spec.as_posix()


@app.command(epilog="Example: airflow-platform status manual__2026-11-24T10:00:00+00:00")
def status(
    run_id: Annotated[str, typer.Argument(help="The run id `submit` printed.")],
    dag: Annotated[str, typer.Option(help="The DAG of the run.")] = RUNNER_DAG,
    url: UrlOption = "http://localhost:8080",
    token: TokenOption = None,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Show a run's state and its tasks. Exit 0 success, 1 failed, 3 still running."""
    from airflow_platform.client import AirflowClient, ApiError

    client = AirflowClient(url, token=token, username=username, password=password)
    try:
        run = client.run(run_id, dag)
        tasks = client.task_instances(run_id, dag)
    except ApiError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    finally:
        client.close()
    out.print(f"{dag} {run_id}: {run['state']}", markup=False)
    for ti in tasks:
        duration = ti.get("duration")
        took = f"{duration:.1f} s" if isinstance(duration, int | float) else "-"
        out.print(f"  {ti['task_id']}: {ti.get('state')} ({took})", markup=False)
    out.print(client.run_url(run_id, dag), markup=False)
    state = run["state"]
    raise typer.Exit(0 if state == "success" else 1 if state == "failed" else 3)


@app.command(epilog="Example: airflow-platform init vision/train-classifier  (or: --pipeline)")
def init(
    target: Annotated[
        str, typer.Argument(help="<team>/<name>: writes <jobs dir>/<team>/<name>.yaml.")
    ],
    pipeline: Annotated[
        bool, typer.Option("--pipeline", help="A pipeline of two tasks instead of one job.")
    ] = False,
    jobs_dir: Annotated[
        Path | None,
        typer.Option(
            "--jobs-dir",
            help=f"The jobs folder (default: ${JOBS_DIR_ENV}, else ./jobs).",
            file_okay=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Write a new spec and the script it runs, ready for `run --local` at once.

    The spec uses the team's smallest CPU flavor and an image under the allowed registry;
    the script (<name>.py, beside the spec) writes into the job's output folder.
    """
    from airflow_platform.scaffold import ScaffoldError, parse_target, scaffold, write
    from airflow_platform.spec.errors import SpecError

    config = _config(config_path)
    folder = jobs_dir or Path(os.environ.get(JOBS_DIR_ENV) or "jobs")
    try:
        team, name = parse_target(target)
        files = scaffold(team, name, folder, config, pipeline=pipeline)
        write(files, force=force)
    except (ScaffoldError, SpecError) as exc:
        err.echo(f"error: {exc}")
        raise typer.Exit(2) from None
    err.echo(f"wrote {files.spec} and {files.script}")
    err.echo(f"next: airflow-platform run --local {files.spec}")


@app.command(epilog="Example: airflow-platform schema > spec.schema.json")
def schema(
    kind: Annotated[SchemaKind, typer.Option(help="all (either kind), job or pipeline.")] = (
        SchemaKind.all
    ),
    config_path: ConfigOption = None,
) -> None:
    """Print the JSON Schema of spec files (for editors), generated from the models and the
    platform config: its flavors (with what each one is), teams and allowed images."""
    from airflow_platform.schema import spec_json_schema

    out.echo(json.dumps(spec_json_schema(kind.value, _config(config_path)), indent=2))


# --- usage (observability): right-sizing from Prometheus, see airflow_platform/usage.py ---
@app.command(
    epilog="Example: airflow-platform usage --prometheus http://prometheus:9090 --since 7d"
)
def usage(
    prometheus: Annotated[
        str | None,
        typer.Option(help="Prometheus base URL (default: $AIRFLOW_PLATFORM_PROMETHEUS_URL)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Window to look back, as a PromQL duration (default: 30d)."),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            help="Safety margin over the peak, 0.2 = 20 % (default: 0.2).", min=0.0, max=5.0
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="text, or json for bots.")] = (
        OutputFormat.text
    ),
    config_path: ConfigOption = None,
) -> None:
    """Per job: the flavor requested, the peak memory and CPU used, and the smallest flavor
    (that the team may use) fitting that use with a safety margin."""
    from rich.table import Table

    from airflow_platform.config import format_memory
    from airflow_platform.usage import (
        DEFAULT_MARGIN,
        DEFAULT_WINDOW,
        UsageError,
        fetch_usage,
        prometheus_url,
        recommend,
    )

    since = since or DEFAULT_WINDOW
    margin = DEFAULT_MARGIN if margin is None else margin
    url = prometheus_url(prometheus)
    if not url:
        err.print("usage: give --prometheus URL or set $AIRFLOW_PLATFORM_PROMETHEUS_URL")
        raise typer.Exit(2)
    config = _config(config_path)
    try:
        rows = recommend(fetch_usage(url, since), config, margin)
    except UsageError as exc:
        err.print(f"usage: {exc}", markup=False)
        raise typer.Exit(1) from None
    if output is OutputFormat.json:
        out.print(json.dumps([r.as_dict() for r in rows], indent=2), markup=False)
        return
    table = Table(title=f"Requested vs used, last {since} (margin {margin:.0%})")
    for column in ("team", "job", "flavor", "requested", "peak memory", "cpu", "fits", "advice"):
        table.add_column(column, overflow="fold")
    for r in rows:
        requested = (
            f"{r.requested_cpu_cores:g} CPU, {format_memory(r.requested_memory_bytes)}"
            if r.requested_memory_bytes is not None and r.requested_cpu_cores is not None
            else "?"
        )
        peak = format_memory(r.peak_memory_bytes) if r.peak_memory_bytes is not None else "-"
        cpu = (
            f"{r.cpu_seconds:.0f} s ({r.cpu_cores or 0:.2f} cores)"
            if r.cpu_seconds is not None
            else "-"
        )
        table.add_row(
            r.team, r.job_name, r.flavor, requested, peak, cpu, r.recommended_flavor or "-",
            r.verdict,
        )  # fmt: skip
    out.print(table)
    if not rows:
        out.print("no job metrics in Prometheus for this window")


# --- end usage ---


def main() -> None:
    """Console entry point."""
    # Pydantic looks for plugins in the entry points of every installed distribution (about
    # 250 beside Airflow: some 40 ms of every `validate`) when it builds its first model. The
    # command's own models use none; a user's explicit setting is kept, and no job inherits
    # this (the local runner passes an allow-listed environment).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    app(prog_name="airflow-platform")


if __name__ == "__main__":
    main()
