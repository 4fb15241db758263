"""JobOperator's rails at construction, with the real Airflow 3.3 operator machinery.

No pod is created here: these are the arguments the operator takes, refuses and derives when
a DAG is parsed (the cluster tests run the pods).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airflow_platform.config import load_config
from airflow_platform.spec.models import JobSpec
from airflow_platform.validation import validate_data

pytestmark = pytest.mark.airflow


def _job(**fields: Any) -> JobSpec:
    data = {
        "name": "count-tokens",
        "team": "nlp",
        "resource_flavor": "cpu-2gb",
        "docker_image": "registry.internal/nlp/tokens:1.0",
        "execution_time": "15 minutes",
        "execution_script": "python count.py",
        **fields,
    }
    spec = validate_data({"job": data}, "<test>").spec
    assert isinstance(spec, JobSpec)
    return spec


def _unchecked_job(**fields: Any) -> JobSpec:
    """A spec that parses but breaks the policy (the guard, not the loader, must stop it)."""
    return _job().model_copy(update=fields)


def test_pod_arguments_are_derived_from_the_spec_and_the_flavor() -> None:
    from airflow_platform.operators.job import TIMEOUT_MARGIN, JobOperator

    config = load_config()
    operator = JobOperator(task_id="count", job=_job(), dag_name="tokens", retries=2)
    startup = config.flavors["cpu-2gb"].startup_allowance
    assert operator.execution_timeout == timedelta(minutes=15) + startup + TIMEOUT_MARGIN
    assert operator.deferrable is True
    assert operator.namespace == config.namespace_of("nlp") == "airflow-jobs-nlp"
    assert operator.schedule_timeout_seconds == int(startup.total_seconds())
    assert operator.on_finish_action.value == "delete_pod"
    assert (operator.retries, operator.dag_name, operator.name) == (2, "tokens", "count-tokens")
    assert operator.job_for(None).name == "count-tokens"


def test_a_spec_that_keeps_failed_pods_deletes_only_succeeded_ones() -> None:
    from airflow_platform.operators.job import JobOperator

    operator = JobOperator(task_id="count", job=_job(keep_failed_pod=True))
    assert operator.on_finish_action.value == "delete_succeeded_pod"


@pytest.mark.parametrize(
    "argument",
    [
        {"image": "docker.io/anything:latest"},
        {"container_resources": {"limits": {"memory": "1Ti"}}},
        {"node_selector": {"any": "node"}},
        {"namespace": "kube-system"},
        {"queue": "gpu"},
        {"executor_config": {"pod_override": {}}},
        {"execution_timeout": timedelta(days=9)},
    ],
    ids=lambda argument: next(iter(argument)),
)
def test_every_argument_that_shapes_the_pod_is_refused(argument: dict[str, Any]) -> None:
    from airflow_platform.operators.job import JobOperator

    with pytest.raises(TypeError) as caught:
        JobOperator(task_id="count", job=_job(), **argument)
    assert str(caught.value) == (
        f"JobOperator does not take {next(iter(argument))}: the platform derives the pod "
        "from the job spec, its flavor and the policy"
    )


def test_pod_arguments_in_a_dags_default_args_do_not_reach_the_pod() -> None:
    """default_args may be shared with other operators of a DAG: they are ignored, not applied."""
    from airflow.sdk import DAG

    from airflow_platform.operators.job import JobOperator

    shared = {"image": "docker.io/other:latest", "queue": "gpu", "namespace": "kube-system"}
    with DAG("shared_defaults", schedule=None, default_args={**shared, "retries": 3}):
        operator = JobOperator(task_id="count", job=_job())
    assert operator.retries == 3
    assert operator.queue != "gpu"
    assert operator.namespace == load_config().namespace_of("nlp")
    assert operator.image != "docker.io/other:latest"


def test_a_job_is_required() -> None:
    from airflow_platform.operators.job import JobOperator

    with pytest.raises(TypeError, match=r"JobOperator needs job="):
        JobOperator(task_id="count")


def test_the_parse_time_guard_refuses_a_job_outside_the_policy() -> None:
    from airflow_platform.operators.job import JobOperator, PolicyViolation

    with pytest.raises(PolicyViolation, match=r"job count-tokens breaks the platform policy"):
        JobOperator(task_id="count", job=_unchecked_job(docker_image="docker.io/evil:latest"))


def test_an_adhoc_operator_takes_the_widest_limits_until_its_conf_is_read() -> None:
    from airflow_platform.operators.job import TIMEOUT_MARGIN, JobOperator

    config = load_config()
    operator = JobOperator(task_id="run_job", job=None)
    widest = max(flavor.startup_allowance for flavor in config.flavors.values())
    assert operator.execution_timeout == (
        config.policy.max_execution_time + widest + TIMEOUT_MARGIN
    )
    assert operator.name == "adhoc-job"


def test_an_adhoc_run_keeps_its_failed_pod_when_its_conf_asks() -> None:
    """The finish action chosen at construction (no job yet) gives way to the conf's spec."""
    from airflow_platform.operators.job import JobOperator

    operator = JobOperator(task_id="run_job", job=None)
    assert operator.on_finish_action.value == "delete_pod"
    operator._set_job(_job(keep_failed_pod=True))
    assert operator.on_finish_action.value == "delete_succeeded_pod"


def test_a_resumed_try_whose_pod_is_gone_explains_its_failure_from_the_last_reading() -> None:
    """The trigger's bare "pod failed" becomes the one-line reason even when the resumed
    worker could not read the pod again (cleanup had already read and deleted it)."""
    from airflow.exceptions import AirflowException
    from kubernetes.client import (
        V1ContainerState,
        V1ContainerStateTerminated,
        V1ContainerStatus,
        V1ObjectMeta,
        V1Pod,
        V1PodStatus,
    )

    from airflow_platform.operators.job import JobOperator

    operator = JobOperator(task_id="run_job", job=_job())
    terminated = V1ContainerStateTerminated(exit_code=3, reason="Error")
    operator._final_pod = V1Pod(
        metadata=V1ObjectMeta(name="count-tokens-1", namespace="nlp"),
        status=V1PodStatus(
            phase="Failed",
            container_statuses=[
                V1ContainerStatus(
                    name="base", image="i", image_id="", ready=False, restart_count=0,
                    state=V1ContainerState(terminated=terminated),
                )
            ],
        ),
    )  # fmt: skip
    operator.pod = None
    explained = operator._explained(AirflowException("pod failed"))
    assert "job count-tokens exited with code 3" in str(explained), explained


def test_the_hand_written_dag_example_of_the_platform_guide_builds() -> None:
    """docs/platform-team.md's example, run as written (the spec path pointed at this checkout)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    guide = (root / "docs" / "platform-team.md").read_text()
    section = guide.split("## A job inside a hand-written DAG", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    code = code.replace("/opt/airflow/jobs/", f"{root}/jobs/")
    namespace: dict[str, Any] = {}
    exec(compile(code, "platform-team.md", "exec"), namespace)
    operator = namespace["dag"].task_dict["count_tokens"]
    assert operator.job_for(None).name == "count-tokens"
    assert operator.retries == 2


def test_with_kueue_a_job_may_wait_for_quota_before_its_run_counts_as_unschedulable() -> None:
    """A gated pod is queued, not slow to start: the startup allowance and the run's timeout
    grow by kueue.max_wait; execution_time still counts from the pod's start."""
    from airflow_platform.config import KueueConfig
    from airflow_platform.operators.job import TIMEOUT_MARGIN, JobOperator

    config = load_config().model_copy(
        update={"kueue": KueueConfig(enabled=True, max_wait=timedelta(hours=2))}
    )
    operator = JobOperator(task_id="count", job=_job(), config=config)
    startup = config.flavors["cpu-2gb"].startup_allowance + timedelta(hours=2)
    assert operator.schedule_timeout_seconds == int(startup.total_seconds())
    assert operator.execution_timeout == timedelta(minutes=15) + startup + TIMEOUT_MARGIN


def test_a_sweeps_mapped_task_reads_no_operator_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Airflow's partial() asks for each __init__'s signature on every call; the operator
    answers from signatures computed once (a sweep must cost the dag-processor what one task
    does), and the defaults partial() derives from them are those of the functions themselves."""
    import inspect

    from airflow.sdk.bases import operator as airflow_operator

    from airflow_platform.operators.job import MatrixJobOperator

    computed: list[object] = []
    real = inspect._signature_from_function  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(inspect, "_signature_from_function", counting)
    defaults = airflow_operator._get_operator_defaults(MatrixJobOperator)
    monkeypatch.undo()
    assert computed == []
    classes = MatrixJobOperator.mro()
    expected = dict(airflow_operator.OPERATOR_DEFAULTS)
    for klass in reversed(classes[: classes.index(airflow_operator.BaseOperator)]):
        if "__init__" in klass.__dict__:
            original = inspect.unwrap(klass.__dict__["__init__"])
            expected.update(
                (name, parameter.default)
                for name, parameter in inspect.signature(original).parameters.items()
                if name in expected and parameter.default is not inspect.Parameter.empty
            )
    assert defaults == expected
