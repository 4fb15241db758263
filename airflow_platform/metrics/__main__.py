"""Prints the docs/metrics.md table of every metric."""

from airflow_platform.metrics.catalogue import metrics_table

print(metrics_table(), end="")
