"""New specs from nothing: what `airflow-platform init <team>/<name>` writes.

A spec and the script it runs, both ready for `run --local` at once: the team's starter flavor
(``PlatformConfig.starter_flavor``, its smallest CPU flavor), an image under the policy's
allowed registry, a short time limit. The spec is validated against the platform config
before anything is written, so `init` never leaves a file that `validate` refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from airflow_platform.config import PlatformConfig
from airflow_platform.spec.errors import did_you_mean
from airflow_platform.spec.loader import Home
from airflow_platform.spec.models import DNS_LABEL, dns_label_from
from airflow_platform.validation import validate_text

STARTER_TIME = "10 minutes"


class ScaffoldError(ValueError):
    """What stops `init` (a team the config does not know, a file that already exists)."""


@dataclass(frozen=True, slots=True)
class Scaffold:
    """The files of a new spec: the spec and its script, by path, with their text."""

    spec: Path
    script: Path
    spec_text: str
    script_text: str


def parse_target(target: str) -> tuple[str, str]:
    """``vision/train-classifier`` → ``("vision", "train-classifier")``."""
    team, slash, name = target.strip().strip("/").partition("/")
    name = name.removesuffix(".yaml").removesuffix(".yml")
    if not slash or not team or not name or "/" in name:
        raise ScaffoldError(
            f"'{target}' is not <team>/<name>; e.g. `airflow-platform init vision/train-classifier`"
        )
    if not DNS_LABEL.fullmatch(name):
        # The job is named after its file: the file name must already be a valid job name.
        suggestion = dns_label_from(name)
        raise ScaffoldError(
            f"'{name}' is not a valid job name: use lowercase letters, digits and '-', start "
            f"and end with a letter or digit, at most 63 characters"
            + (f"; try '{suggestion}'" if suggestion else "")
        )
    return team, name


def _image(config: PlatformConfig, team: str, name: str) -> str:
    """An image the policy allows: the team's path under the first allowed registry."""
    prefix = next(iter(config.policy.allowed_images), "registry.internal/")
    if prefix.endswith("/"):
        return f"{prefix}{team}/{name}:0.1.0"
    if "/" in prefix:  # a path or a repository: the team's images live under it
        return f"{prefix}/{name}:0.1.0"
    return f"{prefix}/{team}/{name}:0.1.0"


def scaffold(
    team: str, name: str, jobs_dir: Path, config: PlatformConfig, *, pipeline: bool = False
) -> Scaffold:
    """The files `init` writes for ``<jobs_dir>/<team>/<name>.yaml`` (``name`` from
    ``parse_target``); ``ScaffoldError`` if the team is unknown or may use no flavor."""
    if team not in config.teams:
        hint = did_you_mean(team, config.teams) or f"known: {', '.join(config.teams)}"
        raise ScaffoldError(
            f"unknown team '{team}'; {hint} (the platform team adds teams to the platform config)"
        )
    flavor = config.starter_flavor(team)
    if flavor is None:
        raise ScaffoldError(f"team '{team}' may use no flavor; ask the platform team for one")
    folder = jobs_dir / team
    module = name.replace("-", "_")
    spec = folder / f"{name}.yaml"
    script = folder / f"{module}.py"
    image = _image(config, team, name)
    text = (_pipeline_spec if pipeline else _job_spec)(team, flavor, image, module, spec)
    # Everything in the text came from the config; a config whose own policy refuses it
    # (an allowed image prefix that is not a registry, say) raises SpecError here.
    validate_text(text, str(spec), config, Home(team, jobs_dir.name or str(jobs_dir)))
    return Scaffold(spec, script, text, _script(name, module, spec, pipeline))


def write(files: Scaffold, *, force: bool = False) -> None:
    """Writes the spec and its script; refuses to replace either unless ``force``."""
    existing = [str(p) for p in (files.spec, files.script) if p.exists()]
    if existing and not force:
        raise ScaffoldError(
            f"{' and '.join(existing)} already exist{'s' * (len(existing) == 1)}; pass --force "
            "to replace"
        )
    files.spec.parent.mkdir(parents=True, exist_ok=True)
    files.spec.write_text(files.spec_text, encoding="utf-8")
    files.script.write_text(files.script_text, encoding="utf-8")


def _header(spec: Path) -> str:
    return (
        f"# {spec.as_posix()}, written by `airflow-platform init`. Every key: docs/reference.md.\n"
        f"# Try it: airflow-platform run --local {spec.as_posix()}\n"
    )


def _job_spec(team: str, flavor: str, image: str, module: str, spec: Path) -> str:
    return _header(spec) + (
        "job:\n"
        f"  team: {team}\n"
        f"  resource_flavor: {flavor}    # the catalog: airflow-platform flavors\n"
        f"  docker_image: {image}    # run --local does not use it\n"
        f"  execution_time: {STARTER_TIME}    # a hard limit\n"
        f"  execution_script: python {module}.py    # runs in this folder\n"
    )


def _pipeline_spec(team: str, flavor: str, image: str, module: str, spec: Path) -> str:
    return _header(spec) + (
        "dag:\n"
        f"  team: {team}\n"
        "  defaults:                      # every task inherits these unless it sets its own\n"
        f"    resource_flavor: {flavor}\n"
        f"    docker_image: {image}\n"
        f"    execution_time: {STARTER_TIME}\n"
        "tasks:\n"
        "  main:                          # a group of tasks (an Airflow task group)\n"
        f"    prepare: {{execution_script: python {module}.py prepare}}\n"
        f"    summarize: {{execution_script: python {module}.py summarize, "
        "depends_on: [prepare]}\n"
    )


def _script(name: str, module: str, spec: Path, pipeline: bool) -> str:
    doc = (
        f'"""The code of {"pipeline" if pipeline else "job"} {name} ({spec.name} runs '
        f"`python {module}.py{' <task>' if pipeline else ''}`).\n\n"
        "What it writes into $AIRFLOW_PLATFORM_OUTPUT_DIR is kept with the run's artifacts"
        + (
            ";\na downstream task reads it, read-only, under "
            '$AIRFLOW_PLATFORM_INPUT_DIR/<upstream task>/.\n"""\n'
            if pipeline
            else '.\n"""\n'
        )
    )
    common = (
        "\nfrom __future__ import annotations\n\n"
        "import os\nimport sys\nfrom pathlib import Path\n\n"
        'OUTPUT = Path(os.environ.get("AIRFLOW_PLATFORM_OUTPUT_DIR", "."))\n'
    )
    if not pipeline:
        return (
            doc
            + common
            + "\n\ndef main() -> int:\n"
            + '    run = os.environ.get("AIRFLOW_PLATFORM_RUN_ID", "?")\n'
            + '    (OUTPUT / "result.txt").write_text(f"hello from run {run}\\n")\n'
            + '    print("wrote", OUTPUT / "result.txt")\n'
            + "    return 0\n\n\n"
            + 'if __name__ == "__main__":\n    sys.exit(main())\n'
        )
    return (
        doc
        + common
        + 'INPUT = Path(os.environ.get("AIRFLOW_PLATFORM_INPUT_DIR", "."))\n'
        + "\n\ndef prepare() -> int:\n"
        + '    (OUTPUT / "numbers.txt").write_text("\\n".join(map(str, range(1, 11))) + "\\n")\n'
        + '    print("wrote", OUTPUT / "numbers.txt")\n'
        + "    return 0\n\n\n"
        + "def summarize() -> int:\n"
        + '    numbers = (INPUT / "prepare" / "numbers.txt").read_text().split()\n'
        + "    total = sum(int(n) for n in numbers)\n"
        + '    (OUTPUT / "sum.txt").write_text(f"{total}\\n")\n'
        + '    print("sum of", len(numbers), "numbers:", total)\n'
        + "    return 0\n\n\n"
        + 'if __name__ == "__main__":\n'
        + '    steps = {"prepare": prepare, "summarize": summarize}\n'
        + '    step = sys.argv[1] if len(sys.argv) > 1 else ""\n'
        + "    if step not in steps:\n"
        + "        sys.exit(f\"usage: python {sys.argv[0]} {{{','.join(steps)}}}\")\n"
        + "    sys.exit(steps[step]())\n"
    )
