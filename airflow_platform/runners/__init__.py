"""Runners that execute a job outside Kubernetes."""

from airflow_platform.runners.local import LocalResult, run_local

__all__ = ["LocalResult", "run_local"]
