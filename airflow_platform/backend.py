"""Where jobs run: Kubernetes, or local processes (the embedded default)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

BACKEND_ENV = "AIRFLOW_PLATFORM_BACKEND"
JOBS_DIR_ENV = "AIRFLOW_PLATFORM_JOBS_DIR"
# The DAG (dags/) that runs one submitted job spec; here so the CLI can name it without httpx.
RUNNER_DAG = "platform_job_runner"


class Backend(StrEnum):
    kubernetes = "kubernetes"
    local = "local"


def current_backend() -> Backend:
    """``$AIRFLOW_PLATFORM_BACKEND``, else Kubernetes when a cluster is configured, else local.

    A cluster counts as configured inside a pod (``KUBERNETES_SERVICE_HOST``), when Airflow has
    a ``kubernetes_default`` connection in the environment, or with a kubeconfig file.
    """
    chosen = os.environ.get(BACKEND_ENV, "").strip().lower()
    if chosen:
        try:
            return Backend(chosen)
        except ValueError:
            raise ValueError(
                f"${BACKEND_ENV}={chosen!r} is not a backend; use 'kubernetes' or 'local'"
            ) from None
    if (
        os.environ.get("KUBERNETES_SERVICE_HOST")
        or os.environ.get("AIRFLOW_CONN_KUBERNETES_DEFAULT")
        or os.environ.get("KUBECONFIG")
        or (Path.home() / ".kube" / "config").is_file()
    ):
        return Backend.kubernetes
    return Backend.local
