"""The pod builder: resources, placement, deadline, labels, security, env — and stable bytes."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from airflow_platform.config import KueueConfig, PlatformConfig
from airflow_platform.pods import RunContext, build_pod, label_value, pod_to_dict, pod_to_yaml
from airflow_platform.spec.models import JobSpec

pytestmark = pytest.mark.unit

LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.fixture
def config(default_config: PlatformConfig) -> PlatformConfig:
    return default_config


def _job(**overrides: Any) -> JobSpec:
    fields: dict[str, Any] = {
        "name": "train-classifier",
        "team": "vision",
        "resource_flavor": "gpu-1x-24gb",
        "docker_image": "registry.internal/vision/train:1.4.2",
        "execution_time": "90 minutes",
        "execution_script": "python train.py --epochs 10",
        "env": {"DATA_PATH": "s3://bucket/train", "A_FIRST": "1"},
        "secrets": [{"name": "s3-creds", "key": "access_key", "env": "AWS_ACCESS_KEY_ID"}],
    }
    return JobSpec.model_validate({**fields, **overrides})


def _pod(
    config: PlatformConfig, context: RunContext | None = None, **overrides: Any
) -> dict[str, Any]:
    return pod_to_dict(build_pod(_job(**overrides), config, context))


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["spec"]["containers"]
    assert container["name"] == "base"
    return container


def _match_expressions(pod: dict[str, Any]) -> list[dict[str, Any]]:
    required = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    (term,) = required["nodeSelectorTerms"]
    expressions: list[dict[str, Any]] = term["matchExpressions"]
    return expressions


def test_gpu_flavor_puts_gpus_in_limits_with_equal_requests(config: PlatformConfig) -> None:
    resources = _container(_pod(config))["resources"]
    assert resources["limits"] == {"memory": "48Gi", "nvidia.com/gpu": "1"}
    assert resources["requests"] == {"cpu": "8", "memory": "48Gi", "nvidia.com/gpu": "1"}


@pytest.mark.parametrize(
    ("flavor", "cpu", "memory"),
    [
        ("cpu-2gb", "1", "2Gi"),
        ("cpu-4gb", "2", "4Gi"),
        ("cpu-16gb", "4", "16Gi"),
        ("ram-64gb", "4", "64Gi"),
    ],
)
def test_cpu_flavors_request_cpu_and_memory_with_memory_limit_equal(
    config: PlatformConfig, flavor: str, cpu: str, memory: str
) -> None:
    resources = _container(_pod(config, resource_flavor=flavor))["resources"]
    assert resources == {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def test_gpu_flavor_pods_bind_only_to_gpu_nodes_of_the_product(config: PlatformConfig) -> None:
    assert _match_expressions(_pod(config)) == [
        {"key": "nvidia.com/gpu.present", "operator": "Exists"},
        {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A10G"]},
    ]


def test_gpu_flavor_without_a_product_requires_any_gpu_node() -> None:
    config = PlatformConfig.model_validate(
        {
            "teams": {"vision": {}},
            "flavors": {"gpu-any": {"cpu": "1", "memory": "1Gi", "gpu": {"count": 2}}},
            "policy": {"allowed_images": ["registry.internal/"]},
            "gpu_nodes": {"label": "example.com/gpu", "taint": "example.com/gpu-taint"},
        }
    )
    pod = pod_to_dict(build_pod(_job(resource_flavor="gpu-any"), config))
    assert _match_expressions(pod) == [{"key": "example.com/gpu", "operator": "Exists"}]
    assert pod["spec"]["tolerations"] == [
        {"key": "example.com/gpu-taint", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert _container(pod)["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_gpu_flavor_pods_tolerate_the_gpu_taint(config: PlatformConfig) -> None:
    assert _pod(config)["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


@pytest.mark.parametrize("flavor", ["cpu-2gb", "cpu-4gb", "cpu-16gb", "ram-64gb"])
def test_cpu_and_ram_flavor_pods_keep_off_gpu_nodes(config: PlatformConfig, flavor: str) -> None:
    pod = _pod(config, resource_flavor=flavor)
    assert _match_expressions(pod) == [
        {"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"}
    ]
    assert "tolerations" not in pod["spec"]


@pytest.mark.parametrize(
    ("execution_time", "seconds"), [("90 minutes", 5400), ("45s", 45), ("PT2H", 7200)]
)
def test_active_deadline_comes_from_execution_time(
    config: PlatformConfig, execution_time: str, seconds: int
) -> None:
    assert _pod(config, execution_time=execution_time)["spec"]["activeDeadlineSeconds"] == seconds


def test_pods_never_restart_and_mount_no_service_account_token(config: PlatformConfig) -> None:
    spec = _pod(config)["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False


def test_pod_and_container_security_contexts_meet_pss_restricted(config: PlatformConfig) -> None:
    pod = _pod(config)
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "fsGroup": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert _container(pod)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert "hostNetwork" not in pod["spec"]


def test_root_filesystem_is_read_only_and_tmp_and_a_work_folder_are_writable(
    config: PlatformConfig,
) -> None:
    """Only emptyDir scratch space is writable (the input folder not even that); HOME points
    at it, since tools write there."""
    pod = _pod(config)
    assert pod["spec"]["volumes"] == [
        {"name": "tmp", "emptyDir": {}},
        {"name": "work", "emptyDir": {}},
        {"name": "output", "emptyDir": {}},
        {"name": "input", "emptyDir": {}},
    ]
    assert _container(pod)["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "work", "mountPath": "/var/run/airflow-platform/work"},
        {"name": "output", "mountPath": "/var/run/airflow-platform/output"},
        {"name": "input", "mountPath": "/var/run/airflow-platform/input", "readOnly": True},
    ]
    env = {e["name"]: e.get("value") for e in _container(pod)["env"]}
    assert env["HOME"] == env["AIRFLOW_PLATFORM_WORK_DIR"] == "/var/run/airflow-platform/work"
    assert env["TMPDIR"] == "/tmp"


def test_termination_grace_period_comes_from_the_policy(config: PlatformConfig) -> None:
    assert _pod(config)["spec"]["terminationGracePeriodSeconds"] == 10
    slow = config.model_copy(
        update={
            "policy": config.policy.model_copy(
                update={"termination_grace_period": timedelta(minutes=1)}
            )
        }
    )
    assert _pod(slow)["spec"]["terminationGracePeriodSeconds"] == 60


def test_flavor_node_labels_and_tolerations_select_a_node_pool(config: PlatformConfig) -> None:
    """A flavor's pool labels join the GPU rule in the one node-selector term; its taint keys
    are tolerated with NoSchedule."""
    flavors = dict(config.flavors)
    flavors["cpu-pool"] = flavors["cpu-2gb"].model_copy(
        update={"node_labels": {"pool": "batch"}, "tolerations": ["pool"]}
    )
    pooled = config.model_copy(update={"flavors": flavors})
    pod = _pod(pooled, resource_flavor="cpu-pool")
    term = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "nvidia.com/gpu.present", "operator": "DoesNotExist"},
        {"key": "pool", "operator": "In", "values": ["batch"]},
    ]
    assert pod["spec"]["tolerations"] == [
        {"key": "pool", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_shell_script_runs_under_sh_and_list_runs_as_exec_form(config: PlatformConfig) -> None:
    assert _container(_pod(config))["command"] == ["/bin/sh", "-c", "python train.py --epochs 10"]
    exec_form = _pod(config, execution_script=["python", "train.py"])
    assert _container(exec_form)["command"] == ["python", "train.py"]
    assert "args" not in _container(exec_form)


def test_env_has_platform_vars_then_sorted_spec_vars_then_secret_refs(
    config: PlatformConfig,
) -> None:
    assert _container(_pod(config))["env"] == [
        {"name": "AIRFLOW_PLATFORM_JOB", "value": "train-classifier"},
        {"name": "AIRFLOW_PLATFORM_TEAM", "value": "vision"},
        {"name": "AIRFLOW_PLATFORM_FLAVOR", "value": "gpu-1x-24gb"},
        {"name": "AIRFLOW_PLATFORM_WORK_DIR", "value": "/var/run/airflow-platform/work"},
        {"name": "AIRFLOW_PLATFORM_OUTPUT_DIR", "value": "/var/run/airflow-platform/output"},
        {"name": "AIRFLOW_PLATFORM_INPUT_DIR", "value": "/var/run/airflow-platform/input"},
        {"name": "HOME", "value": "/var/run/airflow-platform/work"},
        {"name": "TMPDIR", "value": "/tmp"},
        {"name": "A_FIRST", "value": "1"},
        {"name": "DATA_PATH", "value": "s3://bucket/train"},
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": "s3-creds", "key": "access_key"}},
        },
    ]


def test_image_and_namespace_come_from_the_spec_and_its_team(config: PlatformConfig) -> None:
    """A job pod runs in its team's jobs namespace, `<policy.jobs_namespace>-<team>`."""
    pod = _pod(config)
    assert _container(pod)["image"] == "registry.internal/vision/train:1.4.2"
    assert pod["metadata"]["namespace"] == "airflow-jobs-vision"
    assert _pod(config, RunContext(namespace="elsewhere"))["metadata"]["namespace"] == "elsewhere"


def test_labels_name_team_job_and_flavor(config: PlatformConfig) -> None:
    assert _pod(config)["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "airflow-platform",
        "app.kubernetes.io/component": "job",
        "airflow-platform/team": "vision",
        "airflow-platform/job": "train-classifier",
        "airflow-platform/flavor": "gpu-1x-24gb",
    }


def test_with_kueue_on_pods_carry_their_teams_local_queue_label(config: PlatformConfig) -> None:
    queued = config.model_copy(
        update={"kueue": KueueConfig(enabled=True, local_queue="team-queue")}
    )
    labels = _pod(queued)["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "team-queue"
    assert "kueue.x-k8s.io/queue-name" not in _pod(config)["metadata"]["labels"]


def test_dag_and_task_labels_are_sanitised_to_label_syntax(config: PlatformConfig) -> None:
    context = RunContext(dag_id="strain normalization!", task_id="model.fit_model", run_id="r1")
    labels = _pod(config, context)["metadata"]["labels"]
    assert labels["airflow-platform/dag"] == "strain-normalization"
    assert labels["airflow-platform/task"] == "model.fit_model"
    assert all(LABEL_VALUE.fullmatch(v) and len(v) <= 63 for v in labels.values())


@pytest.mark.parametrize(
    "text",
    ["a" * 64, "group." + "very_long_task_name_" * 5, "-._x" * 30, "ünïcödé/ünïcödé" * 6, "__a__"],
)
def test_label_values_are_valid_and_long_ones_keep_a_hash(text: str) -> None:
    value = label_value(text)
    assert LABEL_VALUE.fullmatch(value), value
    assert len(value) <= 63


def test_two_long_ids_sharing_a_prefix_get_different_labels() -> None:
    first, second = "x" * 70 + "first", "x" * 70 + "second"
    assert label_value(first) != label_value(second)
    assert len(label_value(first)) == 63


def test_pod_name_is_the_job_name_without_context_and_unique_per_run(
    config: PlatformConfig,
) -> None:
    assert _pod(config)["metadata"]["name"] == "train-classifier"
    names = {
        _pod(config, RunContext(dag_id="d", task_id="t", run_id=run, try_number=1))["metadata"][
            "name"
        ]
        for run in ("r1", "r2")
    }
    assert len(names) == 2
    assert all(DNS_LABEL.fullmatch(n) for n in names)


def test_pod_name_of_a_63_character_job_stays_a_dns_label(config: PlatformConfig) -> None:
    pod = _pod(config, RunContext(dag_id="d", run_id="r"), name="a" * 63)
    assert DNS_LABEL.fullmatch(pod["metadata"]["name"])


def test_same_input_gives_byte_identical_yaml(config: PlatformConfig) -> None:
    context = RunContext(dag_id="d", task_id="g.t", run_id="r", try_number=2)
    first = pod_to_yaml(build_pod(_job(), config, context))
    second = pod_to_yaml(build_pod(_job(), config, context))
    assert first.encode() == second.encode()
    assert first.startswith("apiVersion: v1\nkind: Pod\n")


def test_service_account_comes_from_the_policy() -> None:
    config = PlatformConfig.model_validate(
        {
            "teams": {"vision": {}},
            "flavors": {"cpu-2gb": {"cpu": "1", "memory": "2Gi"}},
            "policy": {"allowed_images": ["registry.internal/"], "service_account": "job-runner"},
        }
    )
    spec = pod_to_dict(build_pod(_job(resource_flavor="cpu-2gb"), config))["spec"]
    assert spec["serviceAccountName"] == "job-runner"
    assert spec["automountServiceAccountToken"] is False


def test_the_pod_has_an_output_folder_and_a_read_only_input_folder(config: PlatformConfig) -> None:
    container = _container(_pod(config))
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    output, inputs = env["AIRFLOW_PLATFORM_OUTPUT_DIR"], env["AIRFLOW_PLATFORM_INPUT_DIR"]
    assert "readOnly" not in mounts[output]
    assert mounts[inputs]["readOnly"] is True


def test_the_run_and_the_params_reach_the_pod_as_env(config: PlatformConfig) -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 12, 1, 6, tzinfo=UTC)
    context = RunContext(
        dag_id="d", task_id="g.t", run_id="scheduled__x", try_number=3, logical_date=when,
        data_interval_start=when - timedelta(days=1), data_interval_end=when,
        params={"lr": "0.5", "unrelated": 1},
    )  # fmt: skip
    pod = _pod(config, context, params={"lr": 0.1, "tag": "base"})
    env = {e["name"]: e.get("value") for e in _container(pod)["env"]}
    assert {k: env[k] for k in env if k.startswith("AIRFLOW_PLATFORM_") and "DIR" not in k} == {
        "AIRFLOW_PLATFORM_JOB": "train-classifier",
        "AIRFLOW_PLATFORM_TEAM": "vision",
        "AIRFLOW_PLATFORM_FLAVOR": "gpu-1x-24gb",
        "AIRFLOW_PLATFORM_DAG": "d",
        "AIRFLOW_PLATFORM_TASK": "t",
        "AIRFLOW_PLATFORM_RUN_ID": "scheduled__x",
        "AIRFLOW_PLATFORM_TRY_NUMBER": "3",
        "AIRFLOW_PLATFORM_LOGICAL_DATE": "2026-12-01T06:00:00+00:00",
        "AIRFLOW_PLATFORM_DS": "2026-12-01",
        "AIRFLOW_PLATFORM_DATA_INTERVAL_START": "2026-11-30T06:00:00+00:00",
        "AIRFLOW_PLATFORM_DATA_INTERVAL_END": "2026-12-01T06:00:00+00:00",
    }
    assert (env["LR"], env["TAG"]) == ("0.5", "base")
    assert "UNRELATED" not in env
