"""The example Spark job run by `airflow-platform run --local`: PySpark 4 in local mode
(spark.master=local[*], Java 17), logged in from the team's keytab through Hadoop's Kerberos
login against the real KDC, computing the expected summary rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.harness.tools import REPO_ROOT
from tests.kerberos.kdc import Kdc
from tests.kerberos.platform import kerberized_config_data
from tests.kerberos.secrets import keytab_leaks

pytestmark = [pytest.mark.spark, pytest.mark.kerberos]

SPEC = REPO_ROOT / "jobs" / "analytics" / "trip-summary.yaml"
EXPECTED_ROWS = [
    "trip-summary: east trips=3 total_fare=36.1 avg_fare=12.03 fare_per_km=3.41",
    "trip-summary: north trips=3 total_fare=45.9 avg_fare=15.3 fare_per_km=3.38",
    "trip-summary: south trips=3 total_fare=33.5 avg_fare=11.17 fare_per_km=3.53",
]


def test_example_etl_runs_locally_logged_in_from_the_keytab(
    kdc: Kdc, spark_env: dict[str, str], tmp_path: Path
) -> None:
    """`run --local` of jobs/analytics/trip-summary.yaml logs in as svc-analytics from its
    keytab (Hadoop UGI, Kerberos on), prints one row per zone (the malformed row dropped),
    writes them as CSV, and shows no keytab bytes in its output."""
    config = tmp_path / "platform.yaml"
    config.write_text(yaml.safe_dump(kerberized_config_data(kdc.realm, kdc.krb5_conf_text())))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow-platform"), "run", "--local",
         "--config", str(config), str(SPEC)],
        env={
            **spark_env,
            "AIRFLOW_PLATFORM_KEYTAB": str(kdc.keytabs["svc-analytics"]),
            "KRB5_CONFIG": str(kdc.krb5_conf),
            "TMPDIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    principal = kdc.principal("svc-analytics")
    assert f"trip-summary: running as {principal} (kerberos: true, from keytab: true)" in (
        output.replace("True", "true")
    )
    rows = [
        line.strip()
        for line in output.splitlines()
        if line.startswith("trip-summary: ") and "trips=" in line
    ]
    assert rows == EXPECTED_ROWS
    written = sorted(Path("/tmp/airflow-platform-demo/trip-summary").glob("part-*.csv"))
    assert written
    lines = written[0].read_text().splitlines()
    assert lines[0] == "zone,trips,total_fare,avg_fare,fare_per_km"
    assert [line.split(",")[0] for line in lines[1:]] == ["east", "north", "south"]
    assert keytab_leaks(output, kdc.keytabs["svc-analytics"].read_bytes()) == []
