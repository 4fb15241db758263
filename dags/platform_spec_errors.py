"""The invalid job specs under $AIRFLOW_PLATFORM_JOBS_DIR, as this Airflow DAG file's import error.

It defines no DAG on purpose: the dag-processor marks every DAG of a file that has an import
error as stale, and the scheduler starts none of them on schedule, so the errors are reported
here rather than by dags/platform_jobs.py, which builds the valid specs' DAGs.
"""

from airflow_platform.dagfactory import report_spec_errors

report_spec_errors()
