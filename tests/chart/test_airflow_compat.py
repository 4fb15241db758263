"""What the chart tells Airflow is understood by the Airflow it ships: every airflow.cfg option
and AIRFLOW__ variable exists in Airflow 3.3.2 (with its providers), and every `airflow`
command the chart runs (containers, init containers, probes) parses with Airflow's own CLI
parser. Airflow runs in a subprocess with a throwaway AIRFLOW_HOME, so it neither writes a
config into the user's home nor leaks its settings into the test process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.chart.render import (
    VALUES_DIR,
    airflow_cfg,
    pod_specs,
    render_chart,
)

pytestmark = pytest.mark.chart

_CHECKER = """
import json, sys
from airflow.configuration import retrieve_configuration_description
from airflow.cli.cli_parser import get_parser

request = json.load(sys.stdin)
known = retrieve_configuration_description(include_providers=True)
unknown_options = [
    f"[{section}] {option}"
    for section, option in request["options"]
    if option not in known.get(section, {}).get("options", {})
]
parser = get_parser()
bad_commands = []
for argv in request["commands"]:
    try:
        parser.parse_args(argv[1:])
    except SystemExit:
        bad_commands.append(" ".join(argv))
print(json.dumps({"unknown_options": unknown_options, "bad_commands": bad_commands}))
"""


def _airflow_argvs(spec: dict[str, Any]) -> list[list[str]]:
    argvs = []
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        for argv in (
            c.get("args"),
            ((c.get("livenessProbe") or {}).get("exec") or {}).get("command"),
            ((c.get("readinessProbe") or {}).get("exec") or {}).get("command"),
        ):
            if argv and argv[0] == "airflow":
                argvs.append(argv)
    return argvs


def _what_the_chart_says() -> tuple[list[tuple[str, str]], list[list[str]]]:
    options: set[tuple[str, str]] = set()
    commands: list[list[str]] = []
    for values_file in (
        None,
        *(VALUES_DIR / f for f in ("lean.yaml", "git-sync.yaml", "fab-auth.yaml")),
    ):
        docs = render_chart(values_files=[values_file] if values_file else None)
        cfg = airflow_cfg(docs)
        options |= {(s, o) for s in cfg.sections() for o in cfg[s]}
        for spec in pod_specs(docs).values():
            for c in [*spec.get("initContainers", []), *spec["containers"]]:
                for env in c.get("env") or []:
                    if env["name"].startswith("AIRFLOW__"):
                        _, section, option = env["name"].split("__", 2)
                        options.add((section.lower(), option.lower()))
            commands += [a for a in _airflow_argvs(spec) if a not in commands]
    return sorted(options), commands


@pytest.fixture(scope="module")
def verdict(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Airflow's own answer about every option and command the chart renders."""
    options, commands = _what_the_chart_says()
    assert len(options) > 15
    assert len(commands) >= 6
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHECKER],
        input=json.dumps({"options": options, "commands": commands}),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_every_config_option_exists_in_airflow(verdict: dict[str, Any]) -> None:
    """No airflow.cfg line or AIRFLOW__ variable names an option Airflow 3.3.2 does not have
    (Airflow would ignore it silently, so a typo would never surface otherwise)."""
    assert verdict["unknown_options"] == []


def test_every_airflow_command_parses(verdict: dict[str, Any]) -> None:
    """Every `airflow ...` the chart runs is accepted by Airflow's CLI parser."""
    assert verdict["bad_commands"] == []


def test_checker_would_notice_a_typo(tmp_path: Path) -> None:
    """The checker is not vacuous: a misspelt option and a wrong flag are both reported."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    request = {
        "options": [("kubernetes_executor", "worker_pods_creation_batchsize")],
        "commands": [["airflow", "jobs", "check", "--job-type", "Scheduler"]],
    }
    proc = subprocess.run(
        [sys.executable, "-c", _CHECKER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["unknown_options"] == ["[kubernetes_executor] worker_pods_creation_batchsize"]
    assert len(result["bad_commands"]) == 1
