"""Every job and pipeline spec under $AIRFLOW_PLATFORM_JOBS_DIR as an Airflow DAG.

Airflow DAG file: the factory validates each spec, builds the valid ones, and reports the
invalid ones as this file's import error without hiding the others.
"""

# Named here so the dag-processor pre-imports the provider once before forking each parse.
import airflow.providers.cncf.kubernetes.operators.pod  # noqa: F401

from airflow_platform.dagfactory import dags_for_airflow

globals().update(dags_for_airflow(__file__))
