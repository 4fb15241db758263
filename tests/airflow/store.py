"""The real object store as the platform config's `artifacts:`, for tests on the real node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.harness.fixtures import NODE_CONFIG
from tests.harness.kube import apply_secret
from tests.harness.node import RealNode
from tests.harness.objectstore import ObjectStore

CREDENTIALS = "artifacts-store"
PREFIX = "pipeline-runs"


def use_the_store(
    node_backend: Any,
    real_node: RealNode,
    object_store: ObjectStore,
    config_path: Path,
    *,
    team: str = "vision",
    flavors: dict[str, Any] | None = None,
) -> Path:
    """Writes the real-node config with the real store as `artifacts:` (and any extra flavors)
    to ``config_path``, and puts the store's credentials Secret in the team's jobs namespace."""
    real_node.import_images(["airflow"])
    document = yaml.safe_load(NODE_CONFIG.read_text())
    document["flavors"].update(flavors or {})
    port = int(object_store.endpoint.rsplit(":", 1)[1])
    document["artifacts"] = {
        "endpoint": f"http://{real_node.expose(port)}",
        "bucket": object_store.bucket,
        "prefix": PREFIX,
        "credentials_secret": CREDENTIALS,
        "image": "registry.internal/airflow-platform/airflow:0.1.0",
    }
    config_path.write_text(yaml.safe_dump(document))
    secret = {
        "metadata": {"name": CREDENTIALS},
        "stringData": {
            "access_key_id": object_store.access_key,
            "secret_access_key": object_store.secret_key,
        },
    }
    apply_secret(node_backend, f"airflow-jobs-{team}", secret)
    return config_path
