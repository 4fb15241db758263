"""The commands the docs show, run as pasted, so the docs cannot go stale.

The convention (CONTRIBUTING.md, "Docs that run"): a fenced block marked `console` in README.md
or docs/*.md is run. In it, a line starting with `$ ` is a command (continued on the next
lines while a line ends with `\\` or a here-document is open); the lines up to the next `$ `
are what it prints (stdout and stderr together). A line of output may hold `...` for any text
and a line that is only `...` stands for any number of lines; a command without output lines
is checked only for its exit status. A command exits 0 unless it ends with `# exit N`.

Each block runs in a fresh folder holding a copy of the repository's `jobs/`, `docs/` and
`tests/data/` (the paths the docs use), through bash, with the virtualenv's `bin/` first on
PATH and the local runner's artifacts kept in that folder. The platform's other commands
(`submit`, `status`, `usage`, `queues`) need a running platform: docs show them in `bash` blocks, which
are not run, and every `airflow-platform` command in a block that is not run is either one
of those or listed in ``NOT_RUN`` with the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(?P<word>\w+)\1")
EXIT = re.compile(r"#\s*exit\s+(?P<code>\d+)\s*$")
COMMAND = re.compile(r"^\s*(?:\$\s+)?(?:\.venv/bin/)?airflow-platform\s+(?P<sub>[\w-]+)", re.M)
NEEDS_THE_PLATFORM = frozenset({"submit", "status", "usage", "queues"})  # queues: Kueue's use
# (doc, the command's start): why it is shown but not run here.
NOT_RUN = {
    ("README.md", "airflow-platform run --local jobs/analytics/strain-normalization.yaml"): (
        "half a minute of Stan sampling (about 32 s of CPU); `make demo` runs the pipeline"
    ),
    ("docs/normalization.md", ".venv/bin/airflow-platform run --local jobs/analytics/strain"): (
        "the same pipeline, with a lab's own table for the second command"
    ),
    ("docs/platform-team.md", "airflow-platform flavors --config /tmp/platform.yaml"): (
        "reads the config that `helm template` rendered from the team's values-prod.yaml"
    ),
    ("docs/platform-team.md", "airflow-platform render jobs/vision/train-classifier.yaml"): (
        "piped into `kubectl create --dry-run=server`: needs the cluster"
    ),
}


@dataclass(frozen=True)
class Command:
    doc: str
    line: int
    text: str
    expected: tuple[str, ...]
    exit_code: int

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: $ {self.text.splitlines()[0]}"


def _blocks(doc: Path) -> list[tuple[str, int, str]]:
    text = doc.read_text(encoding="utf-8")
    return [
        (m["lang"], text.count("\n", 0, m.start("body")) + 1, m["body"])
        for m in FENCE.finditer(text)
    ]


def _commands(doc: Path, first_line: int, body: str) -> list[Command]:
    lines = body.splitlines()
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(f"{doc.name}:{first_line + i}: a console block starts with `$ `")
        start = i
        text = [lines[i][2:]]
        heredoc = HEREDOC.search(text[0])
        i += 1
        while i < len(lines) and (text[-1].endswith("\\") or heredoc):
            text.append(lines[i])
            if heredoc and lines[i].strip() == heredoc["word"]:
                heredoc = None
            i += 1
        expected = []
        while i < len(lines) and not lines[i].startswith("$ "):
            expected.append(lines[i])
            i += 1
        code = EXIT.search(text[-1])
        commands.append(
            Command(
                str(doc.relative_to(REPO)),
                first_line + start,
                "\n".join(text),
                tuple(expected),
                int(code["code"]) if code else 0,
            )
        )
    return commands


def _console_blocks() -> list[list[Command]]:
    return [
        _commands(doc, line, body)
        for doc in DOCS
        for lang, line, body in _blocks(doc)
        if lang == "console"
    ]


BLOCKS = _console_blocks()


def _pattern(expected: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for line in expected:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(re.escape(line).replace(re.escape("..."), r"[^\n]*") + r"\n")
    return re.compile("".join(parts))


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    ignore = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".*")
    for folder in ("jobs", "docs", "tests/data"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=ignore)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "COLUMNS": "100",
        "AIRFLOW_PLATFORM_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
    }
    return tmp_path, env


def test_the_docs_have_console_blocks_to_run() -> None:
    assert len(BLOCKS) >= 5
    shown = {c.text.split()[1] for block in BLOCKS for c in block if c.text.startswith("airflow")}
    assert {"init", "validate", "flavors", "render", "run", "schema"} <= shown


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b[0].doc}:{b[0].line}")
def test_console_block_runs_as_shown(
    block: list[Command], workdir: tuple[Path, dict[str, str]]
) -> None:
    folder, env = workdir
    for command in block:
        done = subprocess.run(
            ["bash", "-c", command.text],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == command.exit_code, f"{command}\n{done.stdout}"
        assert "Traceback" not in done.stdout, f"{command}\n{done.stdout}"
        if command.expected:
            assert _pattern(command.expected).fullmatch(done.stdout), (
                f"{command} printed:\n{done.stdout}\nbut the docs show:\n"
                + "\n".join(command.expected)
            )


def test_every_command_the_docs_do_not_run_needs_the_platform_or_says_why() -> None:
    unexplained = []
    used = set()
    for doc in DOCS:
        name = str(doc.relative_to(REPO))
        for lang, line, body in _blocks(doc):
            if lang == "console":
                continue
            for match in COMMAND.finditer(body):
                if match["sub"] in NEEDS_THE_PLATFORM:
                    continue
                command = body[match.start() : body.index("\n", match.start())].strip()
                reason = [k for k in NOT_RUN if k[0] == name and command.startswith(k[1])]
                used.update(reason)
                if not reason:
                    unexplained.append(
                        f"{name}:{line + body.count(chr(10), 0, match.start())}: {command}"
                    )
    assert unexplained == []
    assert used == set(NOT_RUN), "NOT_RUN lists a command no doc shows any more"


def _helm_merge(base: object, override: object) -> object:
    """Values merged as Helm merges a values file over the chart's: maps by key, the rest
    replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _helm_merge(base.get(k), v) for k, v in override.items()} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


VALUES_BLOCKS = [
    (doc, line, body)
    for doc in DOCS
    for lang, line, body in _blocks(doc)
    if lang == "yaml" and re.match(r"(#[^\n]*\n)*platform:", body)
]


def test_the_docs_show_chart_values_to_check() -> None:
    assert any(doc.name == "spark-and-kerberos.md" for doc, _, _ in VALUES_BLOCKS)


@pytest.mark.parametrize(
    ("doc", "line", "body"), VALUES_BLOCKS, ids=[f"{d.name}:{n}" for d, n, _ in VALUES_BLOCKS]
)
def test_chart_values_in_the_docs_are_a_valid_values_file(doc: Path, line: int, body: str) -> None:
    chart = REPO / "charts/airflow-platform"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    schema = json.loads((chart / "values.schema.json").read_text())
    jsonschema.validate(_helm_merge(defaults, yaml.safe_load(body)), schema)


def test_the_readme_module_map_names_every_module() -> None:
    package = REPO / "airflow_platform"
    modules = sorted(
        p.stem if p.is_file() else p.name + "/"
        for p in package.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__")
        or (p.is_dir() and not p.name.startswith("_") and p.name != "data")
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## How it fits together") :]
    missing = [
        m
        for m in modules
        if f"`airflow_platform/{m}" not in section
        and not re.search(rf"[`, ]{re.escape(m if m.endswith('/') else m + '.py')}`", section)
    ]
    assert missing == []
