"""The spec corpus: malformed specs beside the exact text `validate` prints, and valid specs.

`tests/data/bad_specs/NAME.yaml` must make `airflow-platform validate` exit 1 and print exactly
`tests/data/bad_specs/NAME.expected` (each line `file:line:column: path: message; hint`).
Adding a case is adding those two files; to write a new `.expected`, run from the repository
root: `airflow-platform validate tests/data/bad_specs/NAME.yaml > tests/data/bad_specs/NAME.expected`
and read it before committing. A case that needs its own platform config (a flavor's time cap,
say) adds a third file, `NAME.platform`, passed as `validate --config`; every other case runs
against the packaged default config. `tests/data/good_specs/` holds specs in the documented format
that must validate.

The CLI runs in-process through typer's `CliRunner` (the real command, the real packaged
platform config), from the repository root so file names print as they are passed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from airflow_platform.cli import app
from airflow_platform.config import PlatformConfig
from airflow_platform.spec.loader import read_spec
from airflow_platform.spec.yamlsafe import MAX_FILE_BYTES

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
BAD = Path("tests/data/bad_specs")
GOOD = Path("tests/data/good_specs")
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<rest>.+)$")


def _cases(folder: Path, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> list[Path]:
    return sorted(p.relative_to(REPO) for p in (REPO / folder).iterdir() if p.suffix in suffixes)


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("AIRFLOW_PLATFORM_CONFIG", raising=False)
    return REPO


def _config_args(spec: Path) -> list[str]:
    config = spec.with_suffix(".platform")
    return ["--config", str(config)] if (REPO / config).is_file() else []


def _validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["validate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_bad_spec_corpus_has_at_least_45_cases_each_with_its_expected_text() -> None:
    specs = _cases(BAD)
    assert len(specs) >= 45
    missing = [str(p) for p in specs if not (REPO / p.with_suffix(".expected")).is_file()]
    orphans = [
        str(p)
        for p in _cases(BAD, (".expected", ".platform"))
        if not (REPO / p.with_suffix(".yaml")).is_file()
    ]
    assert (missing, orphans) == ([], [])


@pytest.mark.parametrize("spec", _cases(BAD), ids=lambda p: p.stem)
def test_bad_spec_exits_1_and_prints_the_expected_problems(in_repo: Path, spec: Path) -> None:
    expected = (in_repo / spec.with_suffix(".expected")).read_text(encoding="utf-8")
    code, stdout, stderr = _validate(*_config_args(spec), str(spec))
    assert stdout == expected
    assert code == 1
    assert stderr.startswith("1 file checked: 1 invalid")


@pytest.mark.parametrize("spec", _cases(BAD), ids=lambda p: p.stem)
def test_every_expected_problem_names_the_file_line_and_column(in_repo: Path, spec: Path) -> None:
    lines = (in_repo / spec.with_suffix(".expected")).read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        match = LINE.match(line)
        assert match, line
        assert match["file"] == str(spec)
        assert int(match["line"]) >= 1
        assert int(match["column"]) >= 1


def test_all_bad_specs_in_one_run_report_every_file(in_repo: Path) -> None:
    specs = [p for p in _cases(BAD) if not _config_args(p)]
    code, stdout, stderr = _validate(*map(str, specs))
    expected = "".join(
        (in_repo / p.with_suffix(".expected")).read_text(encoding="utf-8") for p in specs
    )
    assert code == 1
    assert stdout == expected
    assert f"{len(specs)} files checked: {len(specs)} invalid" in stderr


def test_file_over_one_mib_is_refused_before_parsing(
    in_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    body = "job:\n  team: vision\n  env:\n"
    filler = "".join(f"    VAR_{i:07d}: {'x' * 40}\n" for i in range(MAX_FILE_BYTES // 50 + 10))
    Path("huge.yaml").write_text(body + filler, encoding="utf-8")
    size = Path("huge.yaml").stat().st_size
    assert size > MAX_FILE_BYTES
    code, stdout, _ = _validate("huge.yaml")
    assert code == 1
    assert stdout == (
        f"huge.yaml:1:1: file is {size:,} bytes; the limit is 1,048,576 (1 MiB); "
        "a spec describes one job or pipeline: keep data and code in their own files\n"
    )


def test_file_of_exactly_one_mib_is_read(in_repo: Path, tmp_path: Path) -> None:
    spec = (in_repo / GOOD / "architecture_job.yaml").read_text(encoding="utf-8")
    padded = spec + "#" * (MAX_FILE_BYTES - len(spec.encode()) - 1) + "\n"
    path = tmp_path / "train-classifier.yaml"
    path.write_text(padded, encoding="utf-8")
    assert path.stat().st_size == MAX_FILE_BYTES
    code, _, stderr = _validate(str(path))
    assert (code, stderr) == (0, "1 file checked: all valid\n")


@pytest.mark.parametrize("spec", _cases(GOOD), ids=lambda p: p.stem)
def test_good_spec_validates(in_repo: Path, spec: Path) -> None:
    code, stdout, stderr = _validate(str(spec))
    assert (code, stdout, stderr) == (0, "", "1 file checked: all valid\n")


def test_every_job_example_in_jobs_folder_validates(in_repo: Path) -> None:
    specs = [p for p in (in_repo / "jobs").rglob("*") if p.suffix in (".yaml", ".yml")]
    code, stdout, stderr = _validate("jobs")
    assert len(specs) >= 3
    assert (code, stdout) == (0, "")
    assert stderr == f"{len(specs)} files checked: all valid\n"


def _plain_good_specs() -> list[Path]:
    """Good specs whose every job is a pod of its own (Spark jobs render as spark-submit)."""
    return [
        p
        for p in _cases(GOOD)
        if all(getattr(j, "spark", None) is None for j in read_spec(REPO / p).jobs)
    ]


@pytest.mark.parametrize("spec", _plain_good_specs(), ids=lambda p: p.stem)
def test_good_spec_renders_pods_as_documented(
    in_repo: Path, spec: Path, default_config: PlatformConfig
) -> None:
    result = CliRunner().invoke(app, ["render", str(spec)])
    assert result.exit_code == 0
    pods = list(yaml.safe_load_all(result.stdout))
    doc = read_spec(in_repo / spec)
    jobs = [t.job for t in doc.ordered_tasks()] if doc.tasks else doc.jobs
    assert len(pods) == len(jobs)
    for pod, job in zip(pods, jobs, strict=True):
        flavor = default_config.flavors[job.resource_flavor]
        spec_ = pod["spec"]
        (container,) = spec_["containers"]
        assert spec_["restartPolicy"] == "Never"
        assert spec_["automountServiceAccountToken"] is False
        assert spec_["activeDeadlineSeconds"] == int(job.execution_time.total_seconds())
        assert spec_["securityContext"]["runAsNonRoot"] is True
        assert spec_["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        requests, limits = container["resources"]["requests"], container["resources"]["limits"]
        assert requests["memory"] == limits["memory"] == flavor.memory
        assert requests["cpu"] == flavor.cpu
        terms = spec_["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (term,) = terms["nodeSelectorTerms"]
        gpu_nodes = default_config.gpu_nodes
        if flavor.gpu:
            count = str(flavor.gpu.count)
            assert requests[flavor.gpu.resource] == limits[flavor.gpu.resource] == count
            assert {"key": gpu_nodes.label, "operator": "Exists"} in term["matchExpressions"]
            assert {"key": gpu_nodes.taint, "operator": "Exists", "effect": "NoSchedule"} in (
                spec_["tolerations"]
            )
        else:
            assert term["matchExpressions"] == [
                {"key": gpu_nodes.label, "operator": "DoesNotExist"}
            ]
