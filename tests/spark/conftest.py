"""Fixtures of the Spark tests: the KDC and Kerberos config of tests/kerberos, and the
pyspark package's own spark-submit."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.kerberos.conftest import kdc, krb_config

__all__ = ["kdc", "krb_config"]

INSTALL_HINT = "install the pinned Python packages: `make venv` (pyspark is in requirements.lock)"


@pytest.fixture(scope="session")
def spark_env() -> dict[str, str]:
    """Environment in which `spark-submit` is pyspark's, run by Java 17; fails if either is missing."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "spark-submit").exists():
        pytest.fail(
            f"spark-submit of pyspark is missing from {bin_dir}; {INSTALL_HINT}", pytrace=False
        )
    if not shutil.which("java"):
        pytest.fail(
            "java is not installed; Spark 4 needs Java 17: `apt-get install openjdk-17-jre-headless`",
            pytrace=False,
        )
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}
