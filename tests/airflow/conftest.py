"""Real Airflow 3.3 for the tests: a throwaway AIRFLOW_HOME with a SQLite database.

Airflow reads its configuration when first imported, so the environment is set here, before
any test module of this folder imports it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.backend import use_the_test_cluster
from tests.airflow.store import use_the_store
from tests.harness.fixtures import RESTRICTED_LABELS
from tests.harness.kube import ensure_namespace
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-platform-tests-"))
# Made at import, before any fixture could own it: removed when the test process ends.
atexit.register(shutil.rmtree, AIRFLOW_HOME, ignore_errors=True)
os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_PLATFORM_JOBS_DIR": str(ROOT / "jobs"),
        "AIRFLOW_PLATFORM_BACKEND": "local",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Migrates the test Airflow's SQLite database once per session; returns AIRFLOW_HOME."""
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run(
        [str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy()
    )
    return AIRFLOW_HOME


@pytest.fixture
def jobs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty jobs folder that the DAG factory reads for this test."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    monkeypatch.setenv("AIRFLOW_PLATFORM_JOBS_DIR", str(folder))
    return folder


@pytest.fixture
def node_backend(
    real_node: RealNode,
    control_plane: Any,
    core_v1: Any,
    airflow_db: Path,
    node_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """Airflow's kubernetes_default connection on the test control plane, the real-node
    platform config, and vision's jobs namespace (Pod Security `restricted`)."""
    ensure_namespace(core_v1, node_config.namespace_of("vision"), RESTRICTED_LABELS)
    use_the_test_cluster(monkeypatch, control_plane)
    return core_v1


@pytest.fixture
def store_backend(
    node_backend: Any,
    real_node: RealNode,
    object_store: ObjectStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    """The real-node config with the real store as `artifacts:`, and its credentials Secret in
    vision's jobs namespace."""
    config = use_the_store(node_backend, real_node, object_store, tmp_path / "platform.yaml")
    monkeypatch.setenv("AIRFLOW_PLATFORM_CONFIG", str(config))
    return node_backend
