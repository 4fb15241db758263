"""Guarded Airflow operators."""

from airflow_platform.operators.job import JobFailed, JobOperator, PolicyViolation

__all__ = ["JobFailed", "JobOperator", "PolicyViolation"]
