"""Guarded Airflow operators."""

from airflow_platform.operators.job import JobFailed, JobOperator, PolicyViolation
from airflow_platform.operators.spark import SparkJobOperator

__all__ = ["JobFailed", "JobOperator", "PolicyViolation", "SparkJobOperator"]
