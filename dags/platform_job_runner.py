"""Ad-hoc runs: an Airflow DAG whose run conf is one job spec (`airflow-platform submit`).

The conf is validated and guarded like a spec file before any pod is created.
"""

from airflow.sdk import DAG

from airflow_platform.client import RUNNER_DAG, RUNNER_TASK
from airflow_platform.dagfactory import START_DATE
from airflow_platform.notifications import CALLBACKS
from airflow_platform.operators import JobOperator

with DAG(
    dag_id=RUNNER_DAG,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    tags={"airflow-platform", "ad-hoc"},
    doc_md='Runs the job spec given as the run\'s conf: `{"spec": {"job": {...}}}`. '
    "Use `airflow-platform submit SPEC`.",
    max_active_runs=16,
    is_paused_upon_creation=False,
    # The job's own `critical:` (from the conf) picks PagerDuty or Slack, as for file specs.
    default_args=dict(CALLBACKS),
):
    JobOperator(task_id=RUNNER_TASK, job=None)
