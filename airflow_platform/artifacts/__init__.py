"""A run's artifacts: what each task leaves in ``$AIRFLOW_PLATFORM_OUTPUT_DIR``, handed to its
downstream tasks under ``$AIRFLOW_PLATFORM_INPUT_DIR/<upstream task>/``.

``layout`` is where they live (``<root>/<dag>/<run id>/<task>/<try>/``, the same for a local
folder and, later, an object store's prefix); ``local`` stages them for the local runner.
"""

from airflow_platform.artifacts.layout import TaskArtifacts, default_root
from airflow_platform.artifacts.local import ArtifactsTooLargeError, finish, staged

__all__ = ["ArtifactsTooLargeError", "TaskArtifacts", "default_root", "finish", "staged"]
