"""Guarded Airflow operators."""

from airflow_platform.operators.job import JobFailed, JobOperator
from airflow_platform.operators.rails import ConfRejected, PolicyViolation
from airflow_platform.operators.spark import SparkJobOperator

__all__ = ["ConfRejected", "JobFailed", "JobOperator", "PolicyViolation", "SparkJobOperator"]
