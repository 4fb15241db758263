"""Job and pipeline specs: the models, the one loader, and the error type."""

from airflow_platform.spec.durations import format_duration, parse_duration
from airflow_platform.spec.errors import Problem, SpecError
from airflow_platform.spec.loader import (
    SPEC_SUFFIXES,
    Document,
    load_spec,
    parse_spec_data,
    parse_spec_text,
    read_spec,
)
from airflow_platform.spec.models import (
    DagInfo,
    JobFile,
    JobSpec,
    PipelineSpec,
    PipelineTask,
    SecretRef,
    Spec,
    TaskDefaults,
    TaskSpec,
)

__all__ = [
    "SPEC_SUFFIXES",
    "DagInfo",
    "Document",
    "JobFile",
    "JobSpec",
    "PipelineSpec",
    "PipelineTask",
    "Problem",
    "SecretRef",
    "Spec",
    "SpecError",
    "TaskDefaults",
    "TaskSpec",
    "format_duration",
    "load_spec",
    "parse_duration",
    "parse_spec_data",
    "parse_spec_text",
    "read_spec",
]
