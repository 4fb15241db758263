"""Jobs of the Airflow tests run as pods on the session's test control plane."""

from __future__ import annotations

import json

import pytest

from tests.harness.controlplane import ControlPlane


def use_the_test_cluster(monkeypatch: pytest.MonkeyPatch, plane: ControlPlane) -> None:
    """The kubernetes backend, and Airflow's kubernetes_default connection on the plane's
    kubeconfig. Only the connection: with $KUBECONFIG too, the trigger sees two configs and
    refuses both."""
    monkeypatch.setenv("AIRFLOW_PLATFORM_BACKEND", "kubernetes")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_KUBERNETES_DEFAULT",
        json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": str(plane.kubeconfig)}}
        ),
    )
