"""JobOperator: the guarded KubernetesPodOperator that runs one job spec.

A scientist's spec is all it takes. Everything the pod needs — resources, placement, security
context, namespace, deadline, labels — comes from ``build_pod`` and the flavor catalog, so none
of the KubernetesPodOperator's sixty arguments is open to the spec. The guard (the policy) runs
when the DAG is parsed and once more when each try starts, because the catalog may change in
between; an ad-hoc run's team comes from its caller (``rails.caller_team``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow import settings
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.utils.pod_manager import OnFinishAction
from airflow.sdk.bases.operator import OPERATOR_DEFAULTS, BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_platform import kueue
from airflow_platform.artifacts import TaskArtifacts, default_root
from airflow_platform.artifacts import pod as transfer
from airflow_platform.backend import JOBS_DIR_ENV, Backend, current_backend
from airflow_platform.config import PlatformConfig, load_config
from airflow_platform.failures import (
    explain_failure,
    explain_local_failure,
    explain_timeout,
    failure_reason,
)
from airflow_platform.gates import RESULT_XCOM
from airflow_platform.metrics import emit as metrics
from airflow_platform.operators.rails import (
    ConfRejected,
    PolicyViolation,
    caller_team,
    enforce,
    enforce_at_start,
    refuse,
    refused_arguments,
)
from airflow_platform.pods import CONTAINER_NAME, RunContext, build_pod, param_env
from airflow_platform.policy import check_job
from airflow_platform.runners.local import run_local
from airflow_platform.spec.conditions import MAX_MATRIX_KEYS, matrix_value
from airflow_platform.spec.errors import SpecError
from airflow_platform.spec.loader import GATE_SUFFIX, Document, parse_spec_data
from airflow_platform.spec.models import JobSpec
from airflow_platform.spec.params import ParamError
from airflow_platform.validation import located

# Margin on top of execution_time + startup allowance before Airflow itself gives up: the pod's
# activeDeadlineSeconds should end it first, with a clearer reason.
TIMEOUT_MARGIN = timedelta(seconds=30)

_REFUSED = refused_arguments(KubernetesPodOperator)
# The mapped arguments of a sweep, one per matrix key (declared on MatrixJobOperator).
MATRIX_SLOTS = tuple(f"matrix_{i}" for i in range(MAX_MATRIX_KEYS))
# The XCom key under which a try that succeeded says where its outputs are in the artifact
# store; its downstream tasks fetch exactly that try's (a failed try's are never handed on).
ARTIFACTS_XCOM = "artifacts"


class JobFailed(AirflowException):
    """The job ran and did not succeed; the message says why in one line."""


class JobOperator(KubernetesPodOperator):
    """Runs ``job`` as one guarded pod sized by its flavor (or locally on the local backend).

    :param job: the validated job spec; ``None`` takes it from the run's conf (ad-hoc runs),
        validated and guarded like a file before any pod is created, as the team its caller
        may run as.
    :param workdir: the spec's folder: the local backend runs the script there.
    :param dag_name: the pipeline (DAG) name, for the pod's labels.
    :param config: the platform config to check against (default: ``load_config()``).
    :param result_keys: the keys (and types) of the result the task publishes
        (``result.json``, pushed as the XCom ``result``); none when absent.
    :param matrix_values: the sweep combination this task instance runs (``MatrixJobOperator``).
    :param policy_checked: the caller has just checked ``job`` against this same ``config``
        (the DAG factory does, for every spec), so the parse-time guard is not run twice. The
        guard at task start always runs.
    Other arguments are the scheduling ones of ``BaseOperator`` (``task_id``, ``retries``,
    ``trigger_rule``, callbacks …); pod arguments are refused with a ``TypeError``.
    """

    template_fields = ()
    ui_color = "#e4f0e8"
    _job: JobSpec | None
    _checked: PlatformConfig | None = None  # the config this try was guarded against
    _kept: dict[str, Any] | None = None  # what this try's pod kept in the artifact store
    _published: dict[str, Any] | None = None  # the result it published (result.json)
    _result_error: str | None = None  # why that result could not be read
    _final_pod: Any = None  # the pod as cleanup last read it, before deleting it
    _quota_wait_logged = False  # the task log has said once that the pod waits for quota
    workdir: str | None
    dag_name: str | None
    result_keys: Mapping[str, str]
    matrix_values: Mapping[str, str] | None

    if TYPE_CHECKING:  # the real signature; at run time the hook below receives these arguments

        def __init__(
            self,
            *,
            job: JobSpec | None,
            workdir: str | None = None,
            dag_name: str | None = None,
            config: PlatformConfig | None = None,
            policy_checked: bool = False,
            result_keys: Mapping[str, str] | None = None,
            matrix_values: Mapping[str, str] | None = None,
            **kwargs: Any,
        ) -> None: ...

    # JobOperator has no ``__init__`` of its own on purpose: Airflow wraps every operator class's
    # ``__init__`` in ``apply_defaults``, which re-merges default_args and deep-copies the DAG's
    # params on each level (a third level cost a quarter of the DAG-parse time). Airflow calls
    # this hook inside each level's wrapper instead, so the job's arguments become the KPO's here.
    def _hook_apply_defaults(self, **kwargs: Any) -> tuple[tuple[()], dict[str, Any]]:
        default_args = kwargs.get("default_args") or {}
        if not _REFUSED.isdisjoint(default_args):
            # A DAG's default_args may be shared with other operators; the pod ignores them.
            for key in _REFUSED.intersection(default_args):
                if key in kwargs and kwargs[key] is default_args[key]:
                    del kwargs[key]
        if "_job" not in self.__dict__:  # the outermost level: the caller's own arguments
            if "job" not in kwargs:
                raise TypeError("JobOperator needs job= (a JobSpec, or None for an ad-hoc run)")
            refuse(
                "JobOperator",
                kwargs,
                _REFUSED,
                "the pod from the job spec, its flavor and the policy",
            )
            kwargs = self._pod_arguments(**kwargs)
        return (), kwargs

    def _pod_arguments(
        self,
        *,
        job: JobSpec | str | None,
        workdir: str | None = None,
        dag_name: str | None = None,
        config: PlatformConfig | None = None,
        policy_checked: bool = False,
        result_keys: Mapping[str, str] | None = None,
        matrix_values: Mapping[str, str] | None = None,
        matrix_keys: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Guards the job at parse time, keeps our arguments, and returns the KPO's: the
        scheduling ones passed through (``kwargs``) and the pod ones derived."""
        config = config or load_config()
        if isinstance(job, str):  # a sweep's job, given as JSON (``MatrixJobOperator``)
            job = JobSpec.model_validate_json(job)
        if matrix_keys is not None:  # one combination of a sweep, from Airflow's cross product
            slots = [kwargs.pop(slot, None) for slot in MATRIX_SLOTS]
            matrix_values = dict(zip(matrix_keys, slots, strict=False))
        object.__setattr__(self, "result_keys", dict(result_keys or {}))
        object.__setattr__(self, "matrix_values", matrix_values)
        if job is None:
            limit = config.policy.max_execution_time
            startup = max(f.startup_allowance for f in config.flavors.values())
        else:
            if not policy_checked:
                enforce(job, config)
            limit = job.execution_time
            startup = config.flavors[job.resource_flavor].startup_allowance
        # Set before BaseOperator.__init__ has run, so past its __setattr__ bookkeeping.
        object.__setattr__(self, "_job", job)
        object.__setattr__(self, "workdir", workdir)
        object.__setattr__(self, "dag_name", dag_name)
        if config.kueue.enabled:
            # A pod gated by Kueue is Pending until its team's quota admits it: that wait is
            # queueing, not a slow start, and must not fail the run as unschedulable.
            startup += config.kueue.max_wait
        allowance = int(startup.total_seconds())
        return {
            **kwargs,
            "name": job.name if job else "adhoc-job",
            # An ad-hoc run's team (so its namespace) is known once its conf is read.
            "namespace": config.namespace_of(job.team) if job else None,
            "deferrable": True,
            "execution_timeout": limit + startup + TIMEOUT_MARGIN,
            "schedule_timeout_seconds": allowance,
            "startup_timeout_seconds": allowance + 300,
            "get_logs": True,
            "log_events_on_failure": True,
            "on_finish_action": _finish_action(job).value,
        }

    def job_for(self, context: Any) -> JobSpec:
        """The job: given at construction, or read from the run's conf (ad-hoc runs) as its
        caller's team. Not guarded here: ``execute`` guards each try once."""
        if self._job is None:
            self._set_job(self._conf_job(context, load_config()))
        assert self._job is not None
        return self._job

    def _set_job(self, job: JobSpec) -> None:
        self._job = job
        self.name = job.name
        # An ad-hoc run's spec arrives with its conf, after construction chose for no job.
        self.on_finish_action = _finish_action(job)

    def _conf_doc(self, context: Any, config: PlatformConfig) -> Document:
        """The ad-hoc run's spec: the conf's, as a team its caller may run as."""
        conf = (context["dag_run"].conf or {}) if context else {}
        data = conf.get("spec", conf)
        raw = data.get("job") if isinstance(data, dict) else None
        if isinstance(raw, dict):
            data = {**data, "job": {**raw, "team": caller_team(context, raw.get("team"), config)}}
        try:
            doc = parse_spec_data(data, "<run conf>")
        except SpecError as exc:
            error = ConfRejected(f"the run's conf is not a valid job spec:\n{exc}")
            error.reasons = ("invalid_spec",)
            raise error from None
        if not isinstance(doc.spec, JobSpec):
            error = ConfRejected("the run's conf holds a pipeline; ad-hoc runs take one `job:`")
            error.reasons = ("invalid_spec",)
            raise error
        return doc

    def _conf_job(self, context: Any, config: PlatformConfig) -> JobSpec:
        spec = self._conf_doc(context, config).spec
        assert isinstance(spec, JobSpec)
        return spec

    def _start(self, context: Any) -> tuple[JobSpec, PlatformConfig]:
        """The job of this try, guarded once against today's catalog; counts the try's
        rejection or start (metrics)."""
        config = load_config()
        if self._job is not None:
            return self._job, enforce_at_start(self._job, config, self.dag_id, self.task_id)
        conf = (context["dag_run"].conf or {}) if context else {}
        try:
            doc = self._conf_doc(context, config)
            violations = check_job(doc.jobs[0], config)
            if violations:
                text = SpecError(located(doc, 0, violations))
                error = ConfRejected(f"the run's conf is not an allowed job spec:\n{text}")
                error.reasons = tuple(v.reason for v in violations)
                raise error
            job = doc.jobs[0]
        except ConfRejected as exc:
            metrics.record_conf_rejection(conf.get("spec", conf), exc.reasons, config)
            raise
        metrics.record_start(job, config, self.dag_id, self.task_id)
        self._set_job(job)
        return job, config

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> Any:
        """Our pod, from the job and the config ``execute`` guarded it against, plus the
        operator's own labels."""
        if self._checked is None:  # outside execute (a dry run): guard it here
            self._checked = self._start(context)[1]
        job, config = self.job_for(context), self._checked
        run = self.run_context(context, job)
        if config.artifacts is not None:
            upstream, sweeps = self._upstream_artifacts(context)
            run = replace(
                run, upstream_artifacts=upstream, upstream_sweeps=sweeps,
                result_keys=self.result_keys,
            )  # fmt: skip
        pod = build_pod(job, config, run)
        # The operator finds its pod again (reattach, retries) by these labels.
        pod.metadata.labels.update(self._get_ti_pod_labels(context))
        pod.metadata.labels["kubernetes_pod_operator"] = "True"
        self.namespace = pod.metadata.namespace
        settings.pod_mutation_hook(pod)  # type: ignore[no-untyped-call]
        return pod

    def run_context(self, context: Any, job: JobSpec) -> RunContext:
        """This try's run context, its params checked against their types: a bad value
        stops the try before any pod (or local process) exists."""
        run = RunContext.of(context, self.dag_name, self.task_id)
        if self.matrix_values is not None:
            ti = context.get("ti") if context else None
            index = getattr(ti, "map_index", -1)
            run = replace(
                run, map_index=index if index is not None and index >= 0 else 0,
                matrix=self.matrix_values,
            )  # fmt: skip
        try:
            param_env(job, run)
        except ParamError as exc:
            raise JobFailed(f"job {job.name}: the run's params are refused: {exc}") from None
        return run

    def _upstream_jobs(self) -> list[str]:
        """The upstream tasks that run jobs, sorted: a `when:` check keeps nothing."""
        return sorted(t for t in self.upstream_task_ids if not t.endswith(GATE_SUFFIX))

    def _upstream_artifacts(
        self, context: Any
    ) -> tuple[dict[str, str], dict[str, list[dict[str, Any]]]]:
        """Where each upstream task's succeeded try kept its outputs (task name → prefix;
        ``task/<i>`` for combination ``i`` of a sweep), and each sweep's combinations."""
        ti = context.get("ti") if context else None
        found: dict[str, str] = {}
        sweeps: dict[str, list[dict[str, Any]]] = {}
        if ti is None:
            return found, sweeps
        for task_id in self._upstream_jobs():
            kept = ti.xcom_pull(task_ids=task_id, key=ARTIFACTS_XCOM)
            if isinstance(kept, dict) and isinstance(kept.get("prefix"), str):
                found[_plain_task(task_id)] = kept["prefix"]
            # A sweep's: one per combination that succeeded, found by its map index.
            for item in kept if isinstance(kept, list) else []:
                if isinstance(item, dict) and isinstance(item.get("prefix"), str):
                    name, index = _plain_task(task_id), int(item.get("map_index", 0))
                    found[f"{name}/{index}"] = item["prefix"]
                    values = {k: matrix_value(v) for k, v in (item.get("matrix") or {}).items()}
                    sweeps.setdefault(name, []).append({"index": index, "values": values})
        return found, sweeps

    def execute(self, context: Any) -> Any:
        job, config = self._start(context)
        self.run_context(context, job)
        self._checked = config
        if current_backend() is Backend.local:
            return self._execute_local(job, config, context)
        try:
            return super().execute(context)
        except AirflowException as exc:
            raise self._explained(exc) from exc

    def cleanup(self, pod: Any, remote_pod: Any, *args: Any, **kwargs: Any) -> None:
        """Records the try's metrics from its final pod, then the KPO's cleanup (deletion)."""
        self._final_pod = remote_pod
        if remote_pod is not None and self._job is not None:  # metrics (observability)
            metrics.record_pod_finish(
                self._job, remote_pod, self._log_tail(remote_pod), self.dag_id
            )
        report = transfer.report(remote_pod, transfer.KEEP_CONTAINER)
        self._kept = report.get("kept") if report else None
        self._published = report.get("result") if report else None
        self._result_error = report.get("result_error") if report else None
        super().cleanup(pod, remote_pod, *args, **kwargs)
        problem = transfer.problem(remote_pod)
        if problem and self._job is not None:  # the job ran, but its outputs were not kept
            raise JobFailed(f"job {self._job.name}: {problem}")

    def _log_tail(self, pod: Any) -> str:
        """The last lines of the job container's log (for its usage line); '' if unreadable."""
        try:
            # Raw bytes: the client's own decoding turns a log into the repr of its bytes
            # (or into a number, when the log happens to be valid JSON).
            response = self.client.read_namespaced_pod_log(
                pod.metadata.name,
                pod.metadata.namespace,
                container=CONTAINER_NAME,
                tail_lines=5,
                _preload_content=False,
            )
            return bytes(response.data).decode("utf-8", "replace")
        except Exception:
            return ""

    def invoke_defer_method(self, last_log_time: Any = None, context: Any = None) -> None:
        """Before handing the pod to the trigger, say once in the task log when it waits for
        its team's quota (Kueue's scheduling gate), with its place in the queue."""
        if not self._quota_wait_logged:
            self._quota_wait_logged = True
            self._log_quota_wait()
        super().invoke_defer_method(last_log_time=last_log_time, context=context)

    def _log_quota_wait(self) -> None:
        config = self._checked or load_config()
        if not config.kueue.enabled or self.pod is None:
            return
        try:
            remote = self.client.api_client.sanitize_for_serialization(
                self.pod_manager.read_pod(self.pod)
            )
            if kueue.is_waiting_for_quota(remote):
                self.log.info(kueue.read_wait_message(self.client.api_client, remote, config))
        except Exception as exc:  # the line is for people; it never fails the task
            self.log.info("waiting for quota (queue state unreadable: %s)", exc)

    def trigger_reentry(self, context: Any, event: dict[str, Any]) -> Any:
        self.job_for(context)
        try:
            result = super().trigger_reentry(context, event)
        except AirflowException as exc:
            raise self._explained(exc, timed_out=event.get("status") == "timeout") from exc
        if self._kept is not None:
            kept = dict(self._kept)
            if self.matrix_values is not None:  # downstream tasks lay a sweep out by these
                kept |= {"map_index": context["ti"].map_index, "matrix": self.matrix_values}
            context["ti"].xcom_push(key=ARTIFACTS_XCOM, value=kept)
            self.log.info(
                "job %s kept %s files (%s bytes) of $AIRFLOW_PLATFORM_OUTPUT_DIR in the artifact "
                "store, under %s",
                self.name,
                kept.get("files"),
                kept.get("bytes"),
                kept.get("prefix"),
            )
        if self.result_keys:
            if self._published is None:
                raise JobFailed(f"job {self.name}: {self._why_no_result()}")
            context["ti"].xcom_push(key=RESULT_XCOM, value=self._published)
        return result

    def _why_no_result(self) -> str:
        if self._result_error:
            return self._result_error
        if self._kept is None:
            return (
                "its result travels with the artifacts, and the platform keeps none "
                "(platform.artifacts is not set)"
            )
        return "published no result"

    def _explained(self, exc: BaseException, *, timed_out: bool = False) -> BaseException:
        if isinstance(exc, PolicyViolation | JobFailed):
            return exc
        # A resumed try has no pod of its own until the KPO reads it again, which a pod that
        # is already gone defeats; cleanup's last reading then stands in for it.
        pod = self.pod if self.pod is not None else self._final_pod
        if pod is None or self._job is None:
            return exc
        # Once cleanup has deleted the pod, only its last reading says why it failed.
        remote = self._final_pod
        if remote is None:
            try:
                remote = self.pod_manager.read_pod(pod)
            except Exception:
                remote = pod
        problem = transfer.problem(remote)
        if problem:
            return JobFailed(f"job {self._job.name}: {problem}")
        config = load_config()
        reason = failure_reason(remote)
        if timed_out and reason == "failed":
            return JobFailed(explain_timeout(self._job, config))
        # Only an unschedulable pod's explanation says what the cluster's nodes could offer.
        nodes = self._nodes() if reason == "unschedulable" else []
        return JobFailed(explain_failure(remote, self._job, config, nodes))

    def _nodes(self) -> list[Any]:
        try:
            return list(self.client.list_node().items)
        except Exception:
            self.log.info("Cannot list nodes to describe capacity; continuing without it")
            return []

    def _local_workdir(self, context: Any) -> Path:
        """The spec's folder; for an ad-hoc run, the conf's ``source`` inside the jobs folder."""
        if self.workdir:
            return Path(self.workdir)
        root = Path(os.environ.get(JOBS_DIR_ENV, "jobs")).resolve()
        source = str((context["dag_run"].conf or {}).get("source", ""))
        folder = (root / source).resolve().parent if source else root
        return folder if folder.is_relative_to(root) and folder.is_dir() else root

    def _local_artifacts(self, run: RunContext) -> TaskArtifacts:
        """Where the local backend keeps this try's outputs and finds its upstream tasks'."""
        return TaskArtifacts(
            default_root(),
            run.dag_id or "adhoc",
            run.run_id or "run",
            _plain_task(self.task_id),
            run.try_number or 1,
            tuple(sorted(_plain_task(t) for t in self._upstream_jobs())),
            run.map_index,
        )

    def _execute_local(self, job: JobSpec, config: PlatformConfig, context: Any) -> None:
        log_file = local_log_path(context["ti"].dag_id, context["run_id"], self.task_id)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as sink:

            def emit(line: str) -> None:
                sink.write(line)
                self.log.info("%s", line.rstrip("\n"))

            run = self.run_context(context, job)
            result = run_local(
                job,
                config,
                cwd=self._local_workdir(context),
                on_output=emit,
                context=run,
                artifacts=self._local_artifacts(run),
                result=self.result_keys,
            )
        metrics.record_local_finish(job, result, self.dag_id)  # metrics (observability)
        self.log.info(
            "job %s: %s, exit %s in %.1f s, peak memory %s bytes; output also in %s; "
            "artifacts in %s",
            job.name,
            result.reason,
            result.exit_code,
            result.duration_seconds,
            result.peak_memory_bytes,
            log_file,
            result.output_dir,
        )
        if not result.succeeded:
            raise JobFailed(explain_local_failure(job, config, result))
        if result.result is not None:
            context["ti"].xcom_push(key=RESULT_XCOM, value=dict(result.result))


class MatrixJobOperator(JobOperator):
    """A JobOperator that runs one combination of a sweep (``matrix:``), as an Airflow mapped
    task: ``MatrixJobOperator.partial(job=<the job as JSON>, ...).expand(matrix_0=[...], ...)``.

    Its ``__init__`` exists only to declare the arguments, which Airflow's mapping checks
    against the signatures of the operator's classes; the hook of ``JobOperator`` has taken
    them out before it runs. The job comes as JSON text because a mapped task's arguments are
    serialized with the DAG, and a text costs the serializer nothing to copy.

    Each matrix key's values are mapped over as one slot (``matrix_0``, ``matrix_1``, … in
    the order of ``matrix_keys``), so Airflow takes their cross product at run time: the
    serialized DAG holds each value once, not every combination, and a 1,000-combination
    sweep costs the dag-processor what a 65-value list does. Airflow's cross product varies
    the last slot fastest, as ``spec.conditions.combinations`` does, so map index ``i`` is
    combination ``i`` everywhere.
    """

    @classmethod
    def sweep(cls, matrix: Mapping[str, Sequence[str]], **partial: Any) -> Any:
        """The mapped task of a sweep over ``matrix`` with the ``partial`` arguments."""
        slots = dict(zip(MATRIX_SLOTS, matrix.values(), strict=False))
        return cls.partial(matrix_keys=list(matrix), **partial).expand(**slots)

    def _hook_apply_defaults(self, **kwargs: Any) -> tuple[tuple[()], dict[str, Any]]:
        if "_job" not in self.__dict__:
            # Unmapping passes every argument `partial()` filled in with Airflow's defaults
            # (execution_timeout, queue, ...); only those, untouched, are not the caller's.
            for key in _REFUSED.intersection(kwargs).intersection(OPERATOR_DEFAULTS):
                if kwargs[key] == OPERATOR_DEFAULTS[key]:
                    del kwargs[key]
        return super()._hook_apply_defaults(**kwargs)

    def __init__(
        self,
        *,
        job: str | None = None,
        workdir: str | None = None,
        dag_name: str | None = None,
        result_keys: Mapping[str, str] | None = None,
        matrix_values: Mapping[str, str] | None = None,
        matrix_keys: Sequence[str] | None = None,
        matrix_0: str | None = None,
        matrix_1: str | None = None,
        matrix_2: str | None = None,
        matrix_3: str | None = None,
        matrix_4: str | None = None,
        matrix_5: str | None = None,
        matrix_6: str | None = None,
        matrix_7: str | None = None,
        policy_checked: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)


def _remember_init_signatures(operator_class: type[BaseOperator]) -> None:
    """Airflow's ``partial()`` reads the signature of every ``__init__`` from the class up to
    BaseOperator on each call, uncached: about 0.5 ms per sweep, more than the rest of the
    mapped task. ``inspect.signature`` answers from a function's ``__signature__`` when it has
    one, so each is computed once here; signatures never change at run time."""
    classes = operator_class.mro()
    for klass in classes[: classes.index(BaseOperator)]:
        init = klass.__dict__.get("__init__")
        if init is not None and not hasattr(init, "__signature__"):
            init.__signature__ = inspect.signature(init)


_remember_init_signatures(MatrixJobOperator)


def _finish_action(job: JobSpec | None) -> OnFinishAction:
    """What happens to the job's pod when it ends: kept after a failure if its spec asks."""
    if job is not None and job.keep_failed_pod:
        return OnFinishAction.DELETE_SUCCEEDED_POD
    return OnFinishAction.DELETE_POD


def _plain_task(task_id: str) -> str:
    """A task's name without its group (``model.fit_model`` → ``fit_model``)."""
    return task_id.rsplit(".", 1)[-1]


def local_log_path(dag_id: str, run_id: str, task_id: str) -> Path:
    """Where the local backend keeps a task's output: ``$AIRFLOW_HOME/logs/jobs/…``."""
    root = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow")) / "logs" / "jobs"
    safe_run = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return root / dag_id / safe_run / f"{task_id}.log"
