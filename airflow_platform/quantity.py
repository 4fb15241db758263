"""Kubernetes quantities (``"500m"``, ``"16384Ki"``, ``"1.5Gi"``) parsed by the Kubernetes
client's own parser, without importing the client.

``kubernetes.utils.parse_quantity`` is the authority, but ``import kubernetes.utils`` runs
``kubernetes/__init__``, which imports every API and model class: seconds of start-up that
`airflow-platform validate` must not pay. Its ``quantity`` module needs only ``decimal``, so
it is loaded here from the installed package's file on its own, once, on first use.
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def _client_quantity() -> ModuleType:
    # find_spec of the top-level package finds its folder without running its __init__
    # (importlib.metadata's distribution lookup would cost some 30 ms of start-up).
    package = importlib.util.find_spec("kubernetes")
    if package is None or not package.submodule_search_locations:  # pragma: no cover
        raise ImportError("the Kubernetes client (package kubernetes) is not installed")
    path = Path(next(iter(package.submodule_search_locations))) / "utils" / "quantity.py"
    spec = importlib.util.spec_from_file_location("_airflow_platform_k8s_quantity", str(path))
    if spec is None or spec.loader is None:  # pragma: no cover - a broken installation
        raise ImportError(f"cannot load the Kubernetes quantity parser from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_quantity(quantity: str | int | float | Decimal) -> Decimal:
    """A Kubernetes quantity as a number (cores, bytes, a count); ``ValueError`` if it is not one.

    ``"500m"`` → 0.5, ``"2Gi"`` → 2147483648, ``"1k"`` → 1000.
    """
    value: Decimal = _client_quantity().parse_quantity(quantity)
    return value
