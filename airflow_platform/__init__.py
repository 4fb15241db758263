"""airflow-platform: guarded, flavor-sized Kubernetes jobs for data scientists on Airflow 3."""

from airflow_platform.config import Flavor, PlatformConfig, load_config
from airflow_platform.pods import RunContext, build_pod, pod_to_yaml
from airflow_platform.spec import JobSpec, PipelineSpec, Problem, SpecError, load_spec
from airflow_platform.validation import validate_data, validate_file

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
