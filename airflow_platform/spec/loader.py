"""The one loader of job and pipeline specs: file → validated model, or every problem at once."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError

from airflow_platform.backend import JOBS_DIR_ENV
from airflow_platform.spec.assets import sensor_layout_problems
from airflow_platform.spec.conditions import condition_problems
from airflow_platform.spec.errors import Problem, SpecError, closest, did_you_mean
from airflow_platform.spec.explain import describe_value, validation_problems
from airflow_platform.spec.models import (
    JobFile,
    JobSpec,
    PipelineSpec,
    PipelineTask,
    Spec,
    TaskDefaults,
    TaskSpec,
    dns_label_from,
    platform_env,
)
from airflow_platform.spec.notebooks import NotebookError, load_notebook
from airflow_platform.spec.params import env_name
from airflow_platform.spec.typed import TYPE_BRINGS, typed_task_problems
from airflow_platform.spec.yamlsafe import Path, SourceMap, parse_yaml, read_text

SPEC_SUFFIXES = (".yaml", ".yml")
# A task's own fields that become its job's as they are (env and secrets merge with defaults).
_JOB_FIELDS_FROM_TASK = tuple(
    name
    for name in TaskSpec.model_fields
    if name
    not in ("env", "secrets", "not_secrets", "depends_on", "params", "matrix", "result", "when",
            "trigger_rule", "operator_type", "with_",
            "outlets", "wait_for")
)  # fmt: skip
_DEFAULTABLE = frozenset(TaskDefaults.model_fields)
_REQUIRED_TASK_FIELDS = ("resource_flavor", "docker_image", "execution_time", "execution_script")


@dataclass
class Document:
    """A validated spec with where it came from, so later checks can point at lines."""

    file: str
    spec: Spec
    source: SourceMap
    tasks: list[PipelineTask] = field(default_factory=list)
    unreliable: frozenset[str] = frozenset()
    """In a partial document (``SpecError.partial``): job fields that hold stand-ins, because
    the file's value was missing or invalid; checks that read them must be skipped."""
    task_unreliable: dict[str, frozenset[str]] = field(default_factory=dict)
    """The same for one pipeline task (by task id): defaults it inherits that could not be read."""

    def unreliable_for(self, index: int) -> frozenset[str]:
        """The fields of job ``index`` that checks must not read (see ``unreliable``)."""
        if isinstance(self.spec, JobSpec) or index >= len(self.tasks):
            return self.unreliable
        return self.unreliable | self.task_unreliable.get(self.tasks[index].task_id, frozenset())

    @property
    def jobs(self) -> list[JobSpec]:
        """Every job the document runs: the job itself, or each pipeline task's job."""
        if isinstance(self.spec, JobSpec):
            return [self.spec]
        return [task.job for task in self.tasks]

    def ordered_tasks(self) -> list[PipelineTask]:
        """Pipeline tasks so that each comes after everything it depends on (stable: in file
        order among those ready together). In a partial document, tasks in a cycle or after
        a missing task cannot be ordered; they come last, in file order."""
        position = {t.task_id: i for i, t in enumerate(self.tasks)}
        graph = {t.task_id: list(t.depends_on) for t in self.tasks}
        while True:
            sorter = TopologicalSorter(graph)
            try:
                sorter.prepare()
                break
            except CycleError as exc:  # only in a partial document: leave the cycle out
                for node in exc.args[1]:
                    graph.pop(node, None)
        order: list[str] = []
        while True:
            # A dependency that is not a task (a missing one), or a task left out for its
            # cycle, is never done, so neither are the tasks after it.
            ready = sorted((n for n in sorter.get_ready() if n in graph), key=position.__getitem__)
            if not ready:
                break
            order += ready
            sorter.done(*ready)
        placed = set(order)
        by_id = {t.task_id: t for t in self.tasks}
        return [by_id[n] for n in order] + [t for t in self.tasks if t.task_id not in placed]

    def job_field_path(self, index: int, field_name: str) -> Path:
        """Where the value of ``field_name`` of job ``index`` was written (task or defaults)."""
        if isinstance(self.spec, JobSpec):
            return ("job", field_name)
        task = self.tasks[index]
        own: Path = ("tasks", task.group, task.task_id, field_name)
        if field_name in ("team", "params"):  # declared once for the whole pipeline
            return ("dag", field_name)
        if field_name == "name" or own in self.source.values:
            return own
        defaults: Path = ("dag", "defaults", field_name)
        if defaults in self.source.values:
            return defaults
        return own

    def violation_path(self, index: int, field: tuple[str, ...]) -> Path:
        """Where a policy violation of job ``index`` was written.

        ``field`` is relative to the job: ``("docker_image",)``, ``("env", "NAME")`` or
        ``("secrets", "2", "env")``. In a pipeline a job's env and secrets merge the task's
        with ``dag.defaults``; this finds which of the two holds the entry, and its index there.
        """
        head, rest = field[0], field[1:]
        if isinstance(self.spec, JobSpec) or head not in ("env", "secrets") or not rest:
            path = self.job_field_path(index, head)
            return (*path, *(int(p) if p.isdigit() else p for p in rest))
        task = self.tasks[index]
        spec: PipelineSpec = self.spec
        own_task = spec.tasks[task.group][task.task_id]
        own: Path = ("tasks", task.group, task.task_id, head)
        defaults: Path = ("dag", "defaults", head)
        if head == "env":
            name = rest[0]
            return (*(own if name in own_task.env else defaults), name, *rest[1:])
        position = int(rest[0])
        inherited = len(spec.dag.defaults.secrets)
        if position < inherited:
            return (*defaults, position, *rest[1:])
        return (*own, position - inherited, *rest[1:])


@dataclass(frozen=True, slots=True)
class Home:
    """Where a spec lives, which decides its team: a spec under ``jobs/<team>/`` is that
    team's. ``folder`` is the jobs folder's name as messages show it (``jobs``), ``None`` for
    a spec outside any jobs folder (which must then say its ``team:``)."""

    team: str | None = None
    folder: str | None = None


def home_of(path: str | FsPath, root: str | FsPath | None = None) -> Home:
    """The home of the spec at ``path`` inside the jobs folder ``root``.

    Without ``root``: ``$AIRFLOW_PLATFORM_JOBS_DIR`` when the spec is inside it, else the
    nearest folder above the spec named ``jobs``, else none (a spec outside any jobs folder).
    The team is the first folder below the jobs folder, however deep the spec sits in it.
    """
    file = FsPath(path).absolute()
    if root is None:
        env = os.environ.get(JOBS_DIR_ENV)
        chosen = FsPath(env).absolute() if env else None
        if chosen is None or not file.is_relative_to(chosen):
            chosen = next((p for p in file.parents if p.name == "jobs"), None)
        if chosen is None:
            return Home()
        root = chosen
    top = FsPath(root).absolute()
    parts = file.relative_to(top).parts if file.is_relative_to(top) else ()
    return Home(parts[0] if len(parts) >= 2 else None, top.name or str(top))


def _claim_team(
    section: dict[str, Any], head: str, home: Home, file: str, source: SourceMap
) -> tuple[dict[str, Any], list[Problem]]:
    """The ``job:`` or ``dag:`` mapping with its team taken from the spec's home, and what is
    wrong with the ``team:`` it wrote. The folder wins over the file, so the rest of the spec
    is checked as the folder's team's either way."""
    given = section.get("team")
    if home.team is not None:
        if given is not None and given != home.team:
            return {**section, "team": home.team}, [
                source.problem(
                    (head, "team"),
                    f"the spec is in team {home.team}'s folder ({home.folder}/{home.team}/) "
                    f"but says team '{given}'",
                    f"remove `team:` (the folder decides the team), or move the file to "
                    f"{home.folder}/{given}/",
                )
            ]
        return {**section, "team": home.team}, []
    if home.folder is not None:
        return section, [
            source.problem(
                (head,),
                f"the spec is not in a team's folder of {home.folder}/",
                f"move it into its team's folder, e.g. {home.folder}/<team>/{FsPath(file).name}",
                key=True,
            )
        ]
    return section, []


def default_name(file: str) -> str:
    """A DNS-1123 name from a file name: ``train_classifier.yaml`` → ``train-classifier``."""
    return dns_label_from(FsPath(file).stem) or "job"


def task_job_name(task_id: str) -> str:
    """The job (pod) name of a pipeline task: ``fit_model`` → ``fit-model``."""
    return dns_label_from(task_id) or "task"


NOT_A_SPEC = "# airflow-platform: not-a-spec"
"""The first line that marks a YAML file beside a team's code as not a spec (a model's
hyper-parameters, a tool's config): folder scans (`validate jobs/`, the DAG factory) skip it.
An explicit, written mark rather than a guess from its keys, so that a spec with a misspelt
top-level key is still an error and never silently skipped. It may follow a YAML language
server modeline (``MODELINE``), which editors want on the first line."""
_NOT_A_SPEC = re.compile(r"#\s*airflow-platform\s*:\s*not-a-spec\s*", re.IGNORECASE)
MODELINE = re.compile(r"#\s*yaml-language-server\s*:\s*\$schema=\S*\s*")
"""``# yaml-language-server: $schema=<url or path>``: which JSON Schema an editor checks the
file with (docs/editors.md). A comment to the loader, so it never changes what a spec means."""


def marked_not_a_spec(path: FsPath) -> bool:
    """Whether the file's first line (or the line after a modeline) is ``NOT_A_SPEC``."""
    try:
        with path.open("rb") as file:
            lines = [file.readline(400).decode("utf-8", "replace").strip() for _ in range(2)]
    except OSError:
        return False
    if MODELINE.fullmatch(lines[0]):
        lines = lines[1:]
    return bool(_NOT_A_SPEC.fullmatch(lines[0]))


def spec_files(folder: FsPath) -> list[FsPath]:
    """Every spec file under ``folder``, sorted; hidden folders and files marked not a spec
    (``NOT_A_SPEC``) are skipped (what the DAG factory builds and what `validate FOLDER`
    checks)."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix in SPEC_SUFFIXES
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and not marked_not_a_spec(path)
    )


def read_spec(
    path: str | FsPath, *, display_name: str | None = None, home: Home | None = None
) -> Document:
    """Reads and validates one spec file; raises ``SpecError`` with every problem it has.

    ``home`` says where the spec lives (its team); found from ``path`` when not given.
    """
    name = display_name or str(path)
    try:
        data = FsPath(path).read_bytes()
    except OSError as exc:
        raise SpecError.single(name, f"cannot read the file: {exc.strerror}") from None
    folder = FsPath(path).parent
    return parse_spec_text(read_text(data, name), name, home or home_of(path), folder=folder)


def load_spec(path: str | FsPath) -> Spec:
    """The spec in ``path`` (a ``JobSpec`` or a ``PipelineSpec``), validated."""
    return read_spec(path).spec


def parse_spec_text(
    text: str, file: str, home: Home | None = None, *, folder: FsPath | None = None
) -> Document:
    """Validates a spec file's text; ``home`` (where the file lives) decides its team, and
    ``folder`` (the file's folder, by default) holds the notebooks it runs."""
    data, source = parse_yaml(text, file)
    refused = _content_written(data, source)
    try:
        doc = _parse_document(data, file, source, home or Home())
    except SpecError as exc:
        if not isinstance(exc.partial, Document):
            if refused:
                raise SpecError([*exc.problems, *refused]) from None
            raise
        more = _attach_notebooks(exc.partial, folder or FsPath(file).parent)
        raise SpecError([*exc.problems, *refused, *more], partial=exc.partial) from None
    problems = [*refused, *_attach_notebooks(doc, folder or FsPath(file).parent)]
    if problems:
        raise SpecError(problems, partial=doc)
    return doc


def _content_written(data: Any, source: SourceMap) -> list[Problem]:
    """A file may not carry a notebook's content itself: the loader reads it from the
    notebook's file (only an ad-hoc run's conf, made by `submit`, carries it)."""
    job = data.get("job") if isinstance(data, dict) else None
    if not isinstance(job, dict) or "notebook_content" not in job:
        return []
    return [
        source.problem(
            ("job", "notebook_content"),
            "unknown key 'notebook_content'",
            "the platform reads the notebook from `execution_notebook`; remove this key",
            key=True,
        )
    ]


def _attach_notebooks(doc: Document, folder: FsPath) -> list[Problem]:
    """Reads the notebook of every notebook job of ``doc`` from ``folder`` into the job
    (``JobSpec.notebook_content``); the problems of those that cannot run."""
    problems: list[Problem] = []
    for index, job in enumerate(doc.jobs):
        if job.execution_notebook is None or "execution_notebook" in doc.unreliable_for(index):
            continue
        try:
            content = load_notebook(folder, job.execution_notebook, job.parameters)
        except NotebookError as exc:
            if exc.parameter is None:
                path = doc.job_field_path(index, "execution_notebook")
                problems.append(doc.source.problem(path, exc.message, exc.hint))
            else:
                path = (*doc.job_field_path(index, "parameters"), exc.parameter)
                problems.append(doc.source.problem(path, exc.message, exc.hint, key=True))
            continue
        loaded = job.model_copy(update={"notebook_content": content})
        if isinstance(doc.spec, JobSpec):
            doc.spec = loaded
        else:
            doc.tasks[index] = replace(doc.tasks[index], job=loaded)
    return problems


def parse_spec_data(data: Any, file: str, source: SourceMap | None = None) -> Document:
    """Validates already-parsed data (an ad-hoc run's JSON conf), which names its team."""
    source = source or SourceMap(file)
    huge = _huge_numbers(data)
    if huge:
        raise SpecError(
            [
                source.problem(path, "the number is too long to read", "write a smaller number")
                for path in huge
            ]
        )
    doc = _parse_document(data, file, source, Home())
    if (
        isinstance(doc.spec, JobSpec)
        and doc.spec.execution_notebook
        and not (doc.spec.notebook_content)
    ):
        raise SpecError(
            [
                source.problem(
                    ("job", "execution_notebook"),
                    "the notebook's content is not in the data",
                    "run it with `airflow-platform submit`, which sends the notebook along",
                )
            ],
            partial=doc,
        )
    return doc


def _parse_document(data: Any, file: str, source: SourceMap, home: Home) -> Document:
    """Validates a document's data; YAML holds no numbers, so only other data needs
    ``parse_spec_data``'s check for numbers too long to read."""
    if not isinstance(data, dict):
        raise SpecError(
            [
                source.problem(
                    (),
                    f"the document is {describe_value(data)}, not a mapping",
                    "a spec starts with `job:` (one job) or `dag:` and `tasks:` (a pipeline)",
                )
            ]
        )
    if "job" in data:
        if "dag" in data or "tasks" in data:
            raise SpecError(
                [
                    source.problem(
                        ("dag" if "dag" in data else "tasks",),
                        "a file holds either one `job:` or a pipeline (`dag:` and `tasks:`), not both",
                        "move the job into a file of its own",
                        key=True,
                    )
                ]
            )
        return _parse_job(data, file, source, home)
    if "dag" in data or "tasks" in data:
        return _parse_pipeline(data, file, source, home)
    problems = []
    for key in data:
        hint = did_you_mean(str(key), ["job", "dag", "tasks"])
        problems.append(
            source.problem(
                (key,),
                f"unknown key '{key}' at the top of the file",
                hint
                or "a spec starts with `job:` (one job) or `dag:` and `tasks:` (a pipeline); "
                f"a YAML file that is not a spec starts with the line `{NOT_A_SPEC}`",
                key=True,
            )
        )
    if not problems:
        problems.append(source.problem((), "the mapping is empty", "start with `job:` or `dag:`"))
    raise SpecError(problems)


def _huge_numbers(data: Any) -> list[Path]:
    """Paths of integers too long to turn into text (ad-hoc data from JSON can hold them;
    pydantic would fail on them with a plain ``ValueError``)."""
    out: list[Path] = []
    pending: list[tuple[Path, Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, int) and value.bit_length() > 4000 * 3:
            out.append(path)
        elif isinstance(value, dict):
            pending += [((*path, str(k)), v) for k, v in value.items()]
        elif isinstance(value, list):
            pending += [((*path, i), v) for i, v in enumerate(value)]
    return sorted(out, key=str)


def _parse_job(data: dict[str, Any], file: str, source: SourceMap, home: Home) -> Document:
    job = data.get("job")
    team_problems: list[Problem] = []
    if isinstance(job, dict):
        if job.get("name") is None:
            job = {**job, "name": default_name(file)}
        job, team_problems = _claim_team(job, "job", home, file, source)
        data = {**data, "job": job}
    try:
        model = JobFile.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, JobFile, source)
        partial = _partial_job(data, exc, file, source)
        raise SpecError([*team_problems, *problems], partial=partial) from None
    doc = Document(file, model.job, source)
    if team_problems:
        raise SpecError(team_problems, partial=doc)
    return doc


# Stand-ins for job fields that are missing or invalid, so the rest can still be checked.
_STAND_INS: dict[str, Any] = {
    "name": "job",
    "team": "unknown",
    "resource_flavor": "unknown",
    "docker_image": "unknown",
    "execution_time": "1s",
    "execution_script": "true",
}


def _partial_job(
    data: dict[str, Any], exc: ValidationError, file: str, source: SourceMap
) -> Document | None:
    """The job with its bad fields replaced by stand-ins (listed in ``unreliable``)."""
    job = data.get("job")
    if not isinstance(job, dict):
        return None
    bad = {str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) >= 2 and e["loc"][0] == "job"}
    values = {k: v for k, v in job.items() if k in JobSpec.model_fields and k not in bad}
    stand_ins = {k: v for k, v in _STAND_INS.items() if k not in values}
    try:
        spec = JobSpec.model_validate({**values, **stand_ins})
    except ValidationError:
        return None
    return Document(file, spec, source, unreliable=frozenset(stand_ins) | bad)


def _parse_pipeline(data: dict[str, Any], file: str, source: SourceMap, home: Home) -> Document:
    dag = data.get("dag")
    team_problems: list[Problem] = []
    if isinstance(dag, dict):
        if dag.get("name") is None:
            dag = {**dag, "name": default_name(file)}
        dag, team_problems = _claim_team(dag, "dag", home, file, source)
        data = {**data, "dag": dag}
    layout = _layout_problems(data.get("tasks"), source)
    bad_groups = {p.path for p in layout}
    problems = [*team_problems, *layout]
    pruned = _Pruned(data)
    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as exc:
        problems += [
            _pipeline_level_hint(p)
            for p in validation_problems(exc, PipelineSpec, source)
            if not any(p.path == g or p.path.startswith(g + ".") for g in bad_groups)
            and not (layout and p.message == "required field 'tasks' is missing")
        ]
        found = _prune_pipeline(data, exc, layout)
        if found is None:
            raise SpecError(problems) from None
        spec, pruned = found
    else:
        if layout:  # pragma: no cover - a layout mistake always fails the model too
            raise SpecError(problems)
    # Whatever could not be read was left out above; everything else is still checked, so
    # one run of `validate` shows the unknown keys, the graph, the missing task fields and
    # (in `airflow_platform.validation`) the policy's problems together.
    problems += _graph_problems(spec, source, pruned.broken_tasks)
    problems += _gate_problems(spec, source, pruned.broken_tasks)
    problems += sensor_layout_problems(spec, source)
    tasks: list[PipelineTask] = []
    task_unreliable: dict[str, frozenset[str]] = {}
    for group, task_id, task in spec.task_items():
        # A default that could not be read matters to a task only where it inherits it (env,
        # secrets and not_secrets merge with the task's own, so those always do); a field of
        # its own that could not be read matters to it alone.
        inherited = frozenset(
            name
            for name in pruned.defaults
            if name in ("env", "secrets", "not_secrets") or getattr(task, name, None) is None
        )
        own = frozenset(pruned.broken_fields.get((group, task_id), ()))
        resolved, task_problems, stand_ins = _resolve_task(
            spec, group, task_id, task, source, inherited | own | pruned.unreliable
        )
        problems.extend(task_problems)
        if resolved is not None:
            tasks.append(resolved)
            if inherited | own | stand_ins:
                task_unreliable[task_id] = inherited | own | stand_ins
    if problems:
        # Every task that resolved is a complete job: the policy can still check those.
        raise SpecError(
            problems,
            partial=Document(
                file,
                spec,
                source,
                tasks,
                unreliable=frozenset(pruned.unreliable),
                task_unreliable=task_unreliable,
            ),
        )
    return Document(file, spec, source, tasks)


@dataclass
class _Pruned:
    """A pipeline's data with what pydantic could not read taken out, and what that costs."""

    data: Any
    broken_tasks: set[str] = field(default_factory=set)
    """Tasks left out entirely (a bad name, not a mapping): other tasks may still depend on them."""
    broken_fields: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    """The fields of a (group, task) of its own that were left out: its job's checks that
    read them are skipped."""
    unreliable: set[str] = field(default_factory=set)
    """Job fields that every task gets from ``dag:`` and were left out or stood in for:
    checks that read them are skipped."""
    defaults: set[str] = field(default_factory=set)
    """Fields of ``dag.defaults`` that were left out: unreliable in the tasks inheriting them."""


_PRUNE_ROUNDS = 8
_DAG_STAND_INS: dict[str, Any] = {"name": "pipeline", "team": "unknown"}


def _prune_pipeline(
    data: dict[str, Any], exc: ValidationError, layout: list[Problem]
) -> tuple[PipelineSpec, _Pruned] | None:
    """The pipeline with every value pydantic refused taken out (an unknown key exactly; a bad
    value as its whole field; a task whose name or shape is wrong as the whole task), so that
    the graph, the tasks' resolution and the policy still check the rest in the same run.

    Only the first round's errors are reported (by the caller); taking a value out can make
    its parent invalid too (a secret reference without its key), so later rounds take out the
    parent without a word. ``None`` when nothing usable is left.
    """
    pruned = _Pruned(copy.deepcopy(data))
    tasks = pruned.data.get("tasks")
    if layout and isinstance(tasks, dict):
        for problem in layout:  # a group that holds task fields is most likely one task
            group = problem.path.removeprefix("tasks.")
            pruned.broken_tasks.add(group)
            tasks.pop(group, None)
    for round_ in range(_PRUNE_ROUNDS):
        changed = False
        for err in exc.errors():
            changed |= _prune_one(pruned, tuple(err["loc"]), err["type"], round_)
        try:
            spec = PipelineSpec.model_validate(pruned.data)
        except ValidationError as again:
            if not changed:
                return None
            exc = again
            continue
        return spec, pruned
    return None


def _prune_one(pruned: _Pruned, loc: tuple[Any, ...], kind: str, round_: int) -> bool:
    """Takes the value at ``loc`` (or the field holding it) out of ``pruned.data``; whether
    anything changed."""
    data, unreliable = pruned.data, pruned.unreliable
    if "[key]" in loc:
        loc = loc[: loc.index("[key]")]
    elif kind == "extra_forbidden" and round_ == 0 and _delete(data, loc):
        return True  # an unknown key changes nothing else
    if kind == "missing":
        if loc[:1] == ("dag",) and len(loc) == 2 and loc[1] in _DAG_STAND_INS:
            if isinstance(data.get("dag"), dict):
                data["dag"][loc[1]] = _DAG_STAND_INS[loc[1]]
                unreliable.add(str(loc[1]))
                return True
            return False
        if loc == ("dag",):
            data["dag"] = dict(_DAG_STAND_INS)
            unreliable.add("team")
            return True
        if len(loc) <= 4 and not (loc[:1] == ("dag",) and len(loc) > 2):
            return False  # a field the model needs: nothing to take out
    head = loc[:1]
    if head == ("tasks",):
        target = loc[:4]
    elif loc[:2] == ("dag", "defaults"):
        target = loc[:3]
    elif head == ("dag",):
        target = loc[:2]
    else:
        target = loc[:1]
    if not _delete(data, target):
        return False
    if head == ("tasks",):
        if len(target) == 4:
            task_key = (str(target[1]), str(target[2]))
            pruned.broken_fields.setdefault(task_key, set()).add(str(target[3]))
        elif len(target) == 3:
            pruned.broken_tasks.add(str(target[2]))
    elif target[:2] == ("dag", "defaults") and len(target) == 3:
        pruned.defaults.add(str(target[2]))
    elif head == ("dag",) and len(target) == 2:
        # All of `dag.defaults` (not a mapping) taken out: every task may have lost a default.
        unreliable.update(_DEFAULTABLE if target[1] == "defaults" else {str(target[1])})
    return True


def _delete(data: Any, loc: tuple[Any, ...]) -> bool:
    """Deletes the mapping entry at ``loc``; whether there was one."""
    if not loc:
        return False
    node = data
    for part in loc[:-1]:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        else:
            return False
    if isinstance(node, dict) and loc[-1] in node:
        del node[loc[-1]]
        return True
    return False


def _layout_problems(tasks: Any, source: SourceMap) -> list[Problem]:
    """Mistakes in the shape of ``tasks:`` that pydantic would explain badly.

    ``tasks:`` holds groups, each holding tasks. A task written straight under ``tasks:``
    makes its fields look like tasks; an empty group or an empty ``tasks:`` is a mistake.
    """
    example = "e.g. `tasks: {ingest: {compile_data: {execution_script: python -m norm.compile}}}`"
    if tasks is None or tasks == {}:
        return [
            source.problem(
                ("tasks",), "the pipeline has no tasks", f"add a group with a task, {example}"
            )
        ]
    if isinstance(tasks, list):
        return [
            source.problem(
                ("tasks",),
                "`tasks:` is a list, but it holds groups of named tasks (mappings, not `- ` items)",
                f"name each group and task, {example}",
            )
        ]
    if not isinstance(tasks, dict):
        return []
    task_fields = set(TaskSpec.model_fields)
    problems: list[Problem] = []
    for group, members in tasks.items():
        path: Path = ("tasks", group)
        if members is None or members == {}:
            problems.append(
                source.problem(
                    path,
                    f"group '{group}' has no tasks",
                    "add a task to it, or remove the group",
                    key=True,
                )
            )
            continue
        if not isinstance(members, dict):
            continue
        fields = [
            name
            for name, value in members.items()
            if name in task_fields and not isinstance(value, dict)
        ]
        if fields:
            problems.append(
                source.problem(
                    path,
                    f"'{group}' holds task fields ({', '.join(fields)}): tasks must sit inside "
                    "a group",
                    f"nest it one level deeper, e.g. `tasks: {{main: {{{group}: {{...}}}}}}`",
                    key=True,
                )
            )
    return problems


_PIPELINE_ONLY = ("name", "team", "schedule", "critical")


def _pipeline_level_hint(problem: Problem) -> Problem:
    """An unknown key in a task or in `dag.defaults` that is a field of the whole pipeline
    (``schedule``, ``critical``, ...) gets a hint saying where it belongs."""
    if not problem.message.startswith("unknown key '") or not (
        problem.path.startswith("tasks.") or problem.path.startswith("dag.defaults.")
    ):
        return problem
    key = problem.message.split("'")[1]
    close = key if key in _PIPELINE_ONLY else closest(key, _PIPELINE_ONLY)
    if not close or problem.hint.startswith("did you mean"):
        return problem
    hint = f"`{close}` is set once for the whole pipeline, under `dag:`"
    if close != key:
        hint = f"did you mean '{close}'? " + hint
    return replace(problem, hint=hint)


def _resolve_task(
    spec: PipelineSpec,
    group: str,
    task_id: str,
    task: TaskSpec,
    source: SourceMap,
    unreliable: frozenset[str] = frozenset(),
) -> tuple[PipelineTask | None, list[Problem], frozenset[str]]:
    """The task's job, its defaults applied, its problems, and the fields that hold stand-ins.

    A required field the task lacks is a problem, unless it is in ``unreliable`` (taken out
    of the task or of the defaults because it could not be read: that is reported already);
    either way a stand-in takes its place, so that the policy still checks the rest."""
    defaults: TaskDefaults = spec.dag.defaults
    path: Path = ("tasks", group, task_id)
    if task.wait_for is not None or "wait_for" in unreliable:
        # A sensor runs no job: its job fields are stand-ins that no check reads.
        unreliable = unreliable | frozenset(_REQUIRED_TASK_FIELDS)
    values: dict[str, Any] = {
        "name": task_job_name(task_id),
        "team": spec.dag.team,
        "critical": spec.dag.critical,
        "retries": spec.dag.retries,
        "env": {**defaults.env, **task.env},
        "secrets": [*defaults.secrets, *task.secrets],
        "not_secrets": list(dict.fromkeys([*defaults.not_secrets, *task.not_secrets])),
        # Every task of a pipeline gets the pipeline's params.
        "params": spec.dag.params,
    }
    for name in _JOB_FIELDS_FROM_TASK:
        value = getattr(task, name)
        if value is None and name in _DEFAULTABLE:  # `spark` has no default
            value = getattr(defaults, name)
            if name == "execution_script" and task.execution_notebook is not None:
                value = None  # a notebook task runs its notebook, not the default script
        if value is not None:
            values[name] = value
    typed = typed_task_problems(task, path, source)
    if task.operator_type is not None:  # the type brings both (airflow_platform.tasktypes)
        values.pop("docker_image", None)
        values.pop("execution_script", None)
    missing = [name for name in _REQUIRED_TASK_FIELDS if name not in values]
    if ("spark" in values or "execution_notebook" in values) and "execution_script" in missing:
        missing.remove(
            "execution_script"
        )  # a Spark task runs its application, a notebook its cells
    problems = typed + [
        source.problem(
            path,
            f"task '{task_id}' has no {name}",
            f"set `{name}` on the task or in `dag.defaults`",
        )
        for name in missing
        if name not in unreliable and not (task.operator_type and name in TYPE_BRINGS)
    ]
    values.update({name: _STAND_INS[name] for name in missing})
    stand_ins = frozenset(missing)
    try:
        job = JobSpec.model_validate(values)
    except ValidationError as exc:
        if stand_ins:  # a stand-in that does not fit: report only what was really missing
            return None, problems, stand_ins
        return None, validation_problems(exc, JobSpec, source, prefix=path), stand_ins
    resolved = PipelineTask(
        group, task_id, job, tuple(task.depends_on), task.matrix, task.result, task.when,
        task.trigger_rule, task.operator_type, task.with_, tuple(task.outlets), task.wait_for,
    )  # fmt: skip
    return resolved, problems, stand_ins


def _graph_problems(
    spec: PipelineSpec, source: SourceMap, broken: set[str] | None = None
) -> list[Problem]:
    """Duplicate task names, unknown dependencies and a cycle. ``broken`` names tasks that
    exist in the file but could not be read (already reported): depending on one is fine."""
    problems: list[Problem] = []
    where: dict[str, str] = {}
    broken = broken or set()
    for group, task_id, _ in spec.task_items():
        if task_id in where:
            problems.append(
                source.problem(
                    ("tasks", group, task_id),
                    f"task name '{task_id}' is used in groups '{where[task_id]}' and '{group}'",
                    "task names must be unique across the pipeline: rename one",
                    key=True,
                )
            )
        else:
            where[task_id] = group
    for group, task_id, task in spec.task_items():
        for i, target in enumerate(task.depends_on):
            if target not in where and target not in broken:
                hint = did_you_mean(target, where) or f"known tasks: {', '.join(sorted(where))}"
                problems.append(
                    source.problem(
                        ("tasks", group, task_id, "depends_on", i),
                        f"depends on unknown task '{target}'",
                        hint,
                    )
                )
    cycle = _find_cycle({t: tuple(s.depends_on) for _, t, s in spec.task_items()})
    if cycle:
        group = where[cycle[0]]
        problems.append(
            source.problem(
                ("tasks", group, cycle[0], "depends_on"),
                "dependency cycle: " + " → ".join([*cycle, cycle[0]]),
                "remove one of these `depends_on` entries",
            )
        )
    return problems


GATE_SUFFIX = "__when"
"""A gated task's check runs as the Airflow task ``<task>__when`` (in the task's group)."""


def _gate_problems(spec: PipelineSpec, source: SourceMap, broken: set[str]) -> list[Problem]:
    """What is wrong with the pipeline's sweeps and gates: a ``when:`` on an unknown task or
    key, on a task that is not upstream, a matrix key that clashes with the job's variables,
    a task name taken by a gate."""
    problems: list[Problem] = []
    tasks = {name: (group, task) for group, name, task in spec.task_items()}
    results = {name: task.result for name, (_, task) in tasks.items()}
    swept = {name for name, (_, task) in tasks.items() if task.matrix}
    for name, (group, task) in tasks.items():
        path: Path = ("tasks", group, name)
        if name.endswith(GATE_SUFFIX) and name.removesuffix(GATE_SUFFIX) in tasks:
            gated = name.removesuffix(GATE_SUFFIX)
            if tasks[gated][1].when is not None:
                problems.append(
                    source.problem(
                        path, f"the name '{name}' is taken by the `when:` check of task "
                        f"'{gated}'", "rename the task", key=True,
                    )
                )  # fmt: skip
        if task.spark is not None and (task.matrix or task.result):
            field_name = "matrix" if task.matrix else "result"
            problems.append(
                source.problem(
                    (*path, field_name), f"a Spark task has no `{field_name}:`",
                    "sweep and publish results from script tasks", key=True,
                )
            )  # fmt: skip
        if task.matrix:
            problems += _matrix_problems(spec, task, path, source)
        if task.when is None:
            continue
        if task.trigger_rule != "all_success":
            problems.append(
                source.problem(
                    (*path, "trigger_rule"),
                    "a task with `when:` runs after its upstream tasks succeed and its "
                    f"condition holds; it cannot also have trigger_rule {task.trigger_rule}",
                    "remove one of `when:` and `trigger_rule:`",
                )
            )
        ancestors = _ancestors(name, {n: t.depends_on for n, (_, t) in tasks.items()})
        if any(t in broken for t in task.when.tasks()):
            continue  # that task could not be read: reported already
        for where, message, hint in condition_problems(task.when, ancestors, results, swept):
            problems.append(source.problem((*path, "when", *where), message, hint))
    return problems


def _matrix_problems(
    spec: PipelineSpec, task: TaskSpec, path: Path, source: SourceMap
) -> list[Problem]:
    problems: list[Problem] = []
    taken = {env_name(p): f"param '{p}'" for p in spec.dag.params}
    taken |= {n: "a variable of `env`" for n in (*spec.dag.defaults.env, *task.env)}
    taken |= {ref.env: "a secret's variable" for ref in (*spec.dag.defaults.secrets, *task.secrets)}
    for key in task.matrix or {}:
        variable = key.upper()
        where = (*path, "matrix", key)
        if platform_env(variable):
            problems.append(
                source.problem(
                    where, f"'{variable}' is one of the platform's own variables",
                    "give the key another name", key=True,
                )
            )  # fmt: skip
        elif variable in taken:
            problems.append(
                source.problem(
                    where, f"the key's variable {variable} is also {taken[variable]}",
                    "give one of them another name", key=True,
                )
            )  # fmt: skip
        taken[variable] = f"matrix key '{key}'"
    return problems


def _ancestors(task: str, graph: dict[str, list[str]]) -> set[str]:
    """Every task ``task`` depends on, directly or not (a cycle is reported elsewhere)."""
    found: set[str] = set()
    pending = list(graph.get(task, ()))
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += graph.get(name, ())
    return found


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """One cycle of the graph as a list of task names, each depending on the next and the
    last on the first, starting from the first in sorted order; or an empty list."""
    known = {node: [d for d in deps if d in graph] for node, deps in graph.items()}
    try:
        TopologicalSorter(known).prepare()
    except CycleError as exc:
        # graphlib walks from a task to the tasks that depend on it: reverse for "depends on".
        cycle = list(reversed(exc.args[1][:-1]))
        start = cycle.index(min(cycle))
        return cycle[start:] + cycle[:start]
    return []
