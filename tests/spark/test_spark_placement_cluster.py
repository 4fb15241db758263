"""Where the Spark pod templates land on the real scheduler: GPU executors on GPU nodes of the
flavor's product, the CPU driver off GPU nodes. (The driver never runs under kwok, so the
executors it would create are placed here from their template directly.)"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_platform import spark
from airflow_platform.config import PlatformConfig
from airflow_platform.pods import RunContext
from airflow_platform.spec.models import JobSpec
from tests.harness.kube import wait_for
from tests.kerberos.platform import kerberized_config_data

pytestmark = [pytest.mark.spark, pytest.mark.cluster]


def test_gpu_executors_bind_to_gpu_nodes_and_the_driver_to_a_cpu_node(
    core_v1: Any, restricted_namespace: str
) -> None:
    """Both templates are admitted under `restricted` and scheduled by their flavors."""
    data = kerberized_config_data("EXAMPLE.COM", "[libdefaults]\n")
    data["teams"]["vision"]["spark"] = {"max_executors": 2}
    data["teams"]["vision"]["namespace"] = restricted_namespace
    config = PlatformConfig.model_validate(data)
    job = JobSpec.model_validate(
        {
            "name": "embed-images",
            "team": "vision",
            "resource_flavor": "cpu-4gb",
            "docker_image": "registry.internal/vision/spark-embed:4.2.0",
            "execution_time": "1 hour",
            "spark": {"application": "embed.py", "executor_flavor": "gpu-1x-24gb", "executors": 2},
        }
    )
    core_v1.create_namespaced_service_account(
        restricted_namespace, {"metadata": {"name": config.spark.driver_service_account}}
    )
    driver, executor = spark.pod_templates(job, config, RunContext(namespace=restricted_namespace))
    driver.metadata.name = "embed-images-driver"
    executor.metadata.name = "embed-images-exec-1"
    for pod in (driver, executor):
        core_v1.create_namespaced_pod(restricted_namespace, pod)

    def node_of(name: str) -> str | None:
        node: str | None = core_v1.read_namespaced_pod(name, restricted_namespace).spec.node_name
        return node

    driver_node = wait_for(lambda: node_of("embed-images-driver"), 30, "the driver bound")
    executor_node = wait_for(lambda: node_of("embed-images-exec-1"), 30, "the executor bound")
    labels = {n.metadata.name: n.metadata.labels for n in core_v1.list_node().items}
    assert labels[executor_node].get("nvidia.com/gpu.product") == "NVIDIA-A10G"
    assert "nvidia.com/gpu.present" not in labels[driver_node]
