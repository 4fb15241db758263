"""Start-up: the commands a scientist runs on every save (`validate`, `flavors`, `schema`,
`--help`) import only what they use, never the Kubernetes client or Airflow.

Each command runs in a fresh interpreter (imports are per process), the real entry point,
the packaged default config; the test reads that process's `sys.modules` after the command.
The timings live in benchmarks/bench_cli_startup.py, where a loaded machine cannot fail them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
# Heavy or cluster-side packages: seconds of start-up (kubernetes alone is about 3 s of CPU).
NEVER = ("kubernetes", "airflow", "httpx", "psutil", "prometheus_client", "pagerduty")

_CHILD = """
import json, sys
from airflow_platform.cli import main
out, sys.argv = sys.argv[1], ["airflow-platform", *sys.argv[2:]]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules), "plugins_scanned":
        getattr(sys.modules.get("pydantic.plugin._loader"), "_plugins", None) is not None}, f)
"""


def _child(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a fresh process that ran the command reports (see _CHILD)."""
    out = tmp_path / "child.json"
    subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "100", **(env or {})},
        capture_output=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _modules_after(tmp_path: Path, *args: str, code: int = 0) -> set[str]:
    """The top-level packages loaded by a fresh process that ran the command, which must
    exit with ``code``."""
    result = _child(tmp_path, *args)
    assert result["code"] == code, args
    return {name.split(".")[0] for name in result["modules"]}


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("--help",), 0),
        (("validate", "--help"), 0),
        (("validate", "jobs/vision/train-classifier.yaml"), 0),
        (("validate", "jobs/"), 0),
        (("validate", "tests/data/bad_specs/job_unknown_flavor.yaml"), 1),
        (("flavors",), 0),
        (("flavors", "--format", "json"), 0),
        (("schema",), 0),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else str(value),
)
def test_everyday_commands_do_not_import_kubernetes_or_airflow(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    loaded = _modules_after(tmp_path, *args, code=code)
    assert sorted(loaded & set(NEVER)) == []


def test_validating_an_ordinary_spec_imports_neither_rich_nor_detect_secrets(
    tmp_path: Path,
) -> None:
    # rich (tables) and detect-secrets (with requests) are a third of the rest of start-up;
    # a spec with no secret-shaped text needs neither.
    loaded = _modules_after(tmp_path, "validate", "jobs/vision/train-classifier.yaml")
    assert sorted(loaded & {"rich", "detect_secrets", "requests"}) == []


def test_render_still_builds_the_pod_with_the_kubernetes_client(tmp_path: Path) -> None:
    # The guard above is about laziness, not removal: render needs the client's models.
    loaded = _modules_after(tmp_path, "render", "jobs/vision/train-classifier.yaml")
    assert "kubernetes" in loaded


def test_the_task_callbacks_module_loads_the_pagerduty_client_only_to_page() -> None:
    # Every DAG file imports airflow_platform.notifications (the callbacks); the client (with
    # its own HTTP library) is imported when a critical task first pages.
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, airflow_platform.notifications; print(*sys.modules)"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert sorted({m.split(".")[0] for m in loaded} & {"pagerduty", "httpx2"}) == []


def test_validate_does_not_scan_every_installed_distribution_for_pydantic_plugins(
    tmp_path: Path,
) -> None:
    # Pydantic's plugin search reads the entry points of all ~250 distributions beside Airflow
    # (some 40 ms of a 0.5 s `validate`); the command's models use no plugin.
    result = _child(tmp_path, "validate", "jobs/vision/train-classifier.yaml")
    assert "pydantic.main" in result["modules"]  # the models were built
    assert result["plugins_scanned"] is False


def test_a_user_who_asks_for_pydantic_plugins_gets_them(tmp_path: Path) -> None:
    # Only the default changes: an explicit PYDANTIC_DISABLE_PLUGINS (here: none disabled) wins.
    result = _child(
        tmp_path, "validate", "jobs/vision/train-classifier.yaml",
        env={"PYDANTIC_DISABLE_PLUGINS": ""},
    )  # fmt: skip
    assert result["plugins_scanned"] is True
