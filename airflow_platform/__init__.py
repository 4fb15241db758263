"""airflow-platform: guarded, flavor-sized Kubernetes jobs for data scientists on Airflow 3.

The public names are loaded on first use (PEP 562), so that ``import airflow_platform.cli``
for a `validate` does not pay for the Kubernetes client that only ``build_pod`` needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_platform.config import Flavor, PlatformConfig, load_config
    from airflow_platform.pods import RunContext, build_pod, pod_to_yaml
    from airflow_platform.spec import JobSpec, PipelineSpec, Problem, SpecError, load_spec
    from airflow_platform.validation import validate_data, validate_file

# Each public name and the module that defines it.
_HOMES = {
    "Flavor": "airflow_platform.config",
    "PlatformConfig": "airflow_platform.config",
    "load_config": "airflow_platform.config",
    "RunContext": "airflow_platform.pods",
    "build_pod": "airflow_platform.pods",
    "pod_to_yaml": "airflow_platform.pods",
    "JobSpec": "airflow_platform.spec",
    "PipelineSpec": "airflow_platform.spec",
    "Problem": "airflow_platform.spec",
    "SpecError": "airflow_platform.spec",
    "load_spec": "airflow_platform.spec",
    "validate_data": "airflow_platform.validation",
    "validate_file": "airflow_platform.validation",
}

__all__ = [
    "Flavor",
    "JobSpec",
    "PipelineSpec",
    "PlatformConfig",
    "Problem",
    "RunContext",
    "SpecError",
    "build_pod",
    "load_config",
    "load_spec",
    "pod_to_yaml",
    "validate_data",
    "validate_file",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'airflow_platform' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value
