"""Runs a job as a local process with the command, env and limits its pod would get.

This is the embedded default (`run --local`, `make demo`, Airflow with
``AIRFLOW_PLATFORM_BACKEND=local``). The image is not used: the script runs with this
machine's tools in the spec's folder.

Limits:
- ``execution_time``: the process group gets SIGTERM at the deadline and SIGKILL the policy's
  ``termination_grace_period`` later, like the kubelet after ``activeDeadlineSeconds``.
- folders: ``$AIRFLOW_PLATFORM_WORK_DIR`` is a fresh temporary folder, removed afterwards;
  ``HOME`` and ``TMPDIR`` stay this machine's (in a pod they point at its scratch volumes).
  ``$AIRFLOW_PLATFORM_OUTPUT_DIR`` and ``$AIRFLOW_PLATFORM_INPUT_DIR`` are the task's artifacts
  (``airflow_platform.artifacts``): kept under the artifacts root when the caller gives a
  ``TaskArtifacts``, else temporary folders removed afterwards.
- run context and params: from the ``RunContext`` given, as in the pod (a value of the wrong
  type raises ``ParamError`` before the process starts).
- memory: an unprivileged process cannot create a cgroup, so the runner samples the resident
  memory of the whole process tree every 50 ms (psutil) and kills the tree with SIGKILL when it
  passes the flavor's memory, as the kernel's OOM killer would. A spike shorter than the
  sampling interval can slip through. (The kernel's ``ru_maxrss`` is not used: it counts the
  runner's own memory in the forked child before ``exec``.)
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from airflow_platform import spark
from airflow_platform.artifacts import ArtifactsTooLargeError, TaskArtifacts, finish, staged
from airflow_platform.config import PlatformConfig, parse_memory
from airflow_platform.gates import ResultError, read_result
from airflow_platform.pods import CONTAINER_NAME, RunContext, build_pod, job_command
from airflow_platform.spec.conditions import matrix_value
from airflow_platform.spec.models import JobSpec
from airflow_platform.spec.params import Scalar

SAMPLE_SECONDS = 0.05
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")
# Kerberos and Java come from this machine: the pod's ticket cache and krb5.conf paths are the
# kinit sidecar's, which does not run locally (use your own `kinit`, or for Spark a keytab).
_LOCAL_ONLY_ENV = ("KRB5CCNAME", "KRB5_CONFIG", "JAVA_HOME")
# Pod paths (its scratch volumes) this machine keeps its own values for.
_POD_PATHS = frozenset({"HOME", "TMPDIR"})
MEMORY_MECHANISM = "process-tree RSS sampled every 50 ms (psutil), SIGKILL above the limit"


@dataclass(frozen=True, slots=True)
class LocalResult:
    """How a local run ended."""

    exit_code: int
    duration_seconds: float
    peak_memory_bytes: int
    cpu_seconds: float
    reason: str  # Completed, Error, DeadlineExceeded, OOMKilled, ArtifactsTooLarge, ResultInvalid
    missing_secrets: tuple[str, ...]
    output_dir: Path | None = None
    """Where the task's artifacts were kept (``None`` when they were temporary)."""
    detail: str = ""
    """Why a run that exited 0 failed anyway (its artifacts over the cap, a bad result)."""
    result: Mapping[str, Scalar] | None = None
    """The result it published (``result.json``), when its task declares one."""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


def _process_env(
    job: JobSpec, config: PlatformConfig, context: RunContext | None = None
) -> tuple[dict[str, str], list[str]]:
    """The pod's env, with secret refs taken from this machine's environment when set."""
    pod = build_pod(_pod_job(job), config, context)
    container = next(c for c in pod.spec.containers if c.name == CONTAINER_NAME)
    env = {k: os.environ[k] for k in (*_INHERITED_ENV, *_LOCAL_ONLY_ENV) if k in os.environ}
    # `python` in a script means the interpreter running the platform, as it would in the image.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    missing: list[str] = []
    for var in container.env or []:
        if var.name in _LOCAL_ONLY_ENV or var.name in _POD_PATHS:
            continue
        if var.value_from is None:
            env[var.name] = var.value
        elif var.name in os.environ:
            env[var.name] = os.environ[var.name]
        else:
            missing.append(var.name)
    return env, missing


def _pod_job(job: JobSpec) -> JobSpec:
    """The job whose pod gives the local env: a Spark job's driver."""
    return spark.role_job(job, "driver", job.resource_flavor) if job.spark else job


def _command(job: JobSpec, config: PlatformConfig, env: dict[str, str]) -> list[str]:
    """The pod's command, or for a Spark job spark-submit with ``--master local[*]``."""
    if job.spark:
        keytab = os.environ.get(spark.LOCAL_KEYTAB_ENV)
        env.update(spark.local_env(job, keytab))
        return spark.local_command(job, config, keytab, env.get("KRB5_CONFIG"))
    # The pod's command without the image's usage wrapper: the runner measures the job itself.
    return list(job_command(job) or [])


def _tree_rss(root: psutil.Process) -> int:
    total = 0
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for proc in procs:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            continue
    return total


def run_local(
    job: JobSpec,
    config: PlatformConfig,
    *,
    cwd: Path,
    on_output: Callable[[str], None] | None = None,
    context: RunContext | None = None,
    artifacts: TaskArtifacts | None = None,
    result: Mapping[str, str] | None = None,
) -> LocalResult:
    """Runs ``job`` in ``cwd`` and returns how it ended; output lines go to ``on_output``.

    ``context`` gives the run's variables, param values and sweep combination; ``artifacts``
    where the task's outputs are kept and whose outputs it reads (temporary folders without
    it); ``result`` the keys (and types) of the result the task must publish.
    """
    with tempfile.TemporaryDirectory(prefix=f"airflow-platform-{job.name}-") as work:
        env, missing = _process_env(job, config, context)
        env["AIRFLOW_PLATFORM_WORK_DIR"] = work
        task = artifacts or TaskArtifacts(Path(work) / "artifacts", "local", "run", job.name)
        values = {k: matrix_value(v) for k, v in ((context and context.matrix) or {}).items()}
        with staged(task, values) as (output, inputs):
            env["AIRFLOW_PLATFORM_OUTPUT_DIR"] = str(output)
            env["AIRFLOW_PLATFORM_INPUT_DIR"] = str(inputs)
            ended = _run(job, config, cwd, env, missing, on_output)
        kept = output if artifacts else None
        ended = dataclasses.replace(ended, output_dir=kept)
        if not ended.succeeded:
            return ended
        published = None
        if result:  # read before the `outputs:` globs may drop the file
            try:
                published = read_result(output, result, config.policy.max_result_bytes)
            except ResultError as exc:
                detail = f"task {task.task}: {exc}"
                return dataclasses.replace(
                    ended, exit_code=1, reason="ResultInvalid", detail=detail
                )
        cap = config.policy.max_task_artifacts
        try:
            finish(task, job.outputs, cap, parse_memory(cap))
        except ArtifactsTooLargeError as exc:
            return dataclasses.replace(
                ended, exit_code=1, reason="ArtifactsTooLarge", detail=str(exc)
            )
        return dataclasses.replace(ended, result=published)


def _run(
    job: JobSpec,
    config: PlatformConfig,
    cwd: Path,
    env: dict[str, str],
    missing: list[str],
    on_output: Callable[[str], None] | None,
) -> LocalResult:
    command = _command(job, config, env)
    grace = config.policy.termination_grace_period.total_seconds()
    limit = parse_memory(config.flavors[job.resource_flavor].memory)
    deadline = job.execution_time.total_seconds()
    emit = on_output or (lambda line: print(line, end="", flush=True))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        # An exec-form script (`[./run.sh]`, `[papermill, ...]`) whose program is missing or
        # may not be executed: the same exit codes as the shell (and as the container
        # runtime) give the string form, and a message instead of a traceback.
        code, error = _not_started(command[0], cwd, exc)
        emit(error + "\n")
        return LocalResult(
            exit_code=code,
            duration_seconds=time.monotonic() - started,
            peak_memory_bytes=0,
            cpu_seconds=0.0,
            reason="Error",
            missing_secrets=tuple(missing),
        )
    assert proc.stdout is not None
    reader = threading.Thread(target=_pump, args=(proc.stdout, emit), daemon=True)
    reader.start()
    watched = psutil.Process(proc.pid)
    peak = 0
    reason = ""
    term_sent_at: float | None = None
    status = 0
    usage = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        peak = max(peak, _tree_rss(watched))
        elapsed = time.monotonic() - started
        if not reason and peak > limit:
            reason = "OOMKilled"
            _signal_group(proc.pid, signal.SIGKILL)
        elif not reason and elapsed > deadline:
            reason = "DeadlineExceeded"
            term_sent_at = time.monotonic()
            _signal_group(proc.pid, signal.SIGTERM)
        elif term_sent_at and time.monotonic() - term_sent_at > grace:
            _signal_group(proc.pid, signal.SIGKILL)
            term_sent_at = None
        time.sleep(SAMPLE_SECONDS)
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Reap whatever the job left running in its group, as the kubelet does with the pod.
    _signal_group(proc.pid, signal.SIGKILL)
    reader.join(timeout=5)
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    cpu = (usage.ru_utime + usage.ru_stime) if usage is not None else 0.0
    if not reason:
        reason = "Completed" if code == 0 else "Error"
    elif code == 0:
        code = 137 if reason == "OOMKilled" else 143
    return LocalResult(
        exit_code=code,
        duration_seconds=time.monotonic() - started,
        peak_memory_bytes=peak,
        cpu_seconds=cpu,
        reason=reason,
        missing_secrets=tuple(missing),
    )


def _not_started(program: str, cwd: Path, exc: OSError) -> tuple[int, str]:
    """The exit code (127 not found, 126 not executable) and message of a command that could
    not start."""
    where = f"in {cwd}" if "/" in program else "on PATH"
    if isinstance(exc, FileNotFoundError):
        hint = (
            "check the path, relative to the spec's folder"
            if "/" in program
            else "install it here, or use the string form to run it through a shell"
        )
        return 127, f"{program}: command not found ({where}); {hint}"
    if isinstance(exc, PermissionError):
        return (
            126,
            f"{program}: permission denied ({where}); make it executable: chmod +x {program}",
        )
    return 126, f"{program}: cannot run it: {exc.strerror or exc}"


def _pump(stream: IO[str], emit: Callable[[str], None]) -> None:
    for line in stream:
        emit(line)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return
