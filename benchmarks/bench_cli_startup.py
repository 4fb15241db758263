"""How long `airflow-platform` takes to answer, in a fresh process, beside bare Python.

Each round runs, interleaved so that machine load falls on all alike, fresh processes of:
``python -c pass``; ``python -c "import pydantic.main, typer, yaml"`` (the libraries
`validate` cannot do without, and nothing of ours: the floor of its start-up);
``airflow-platform validate ONE`` (jobs/vision/train-classifier.yaml);
``airflow-platform --help``; ``airflow-platform validate DIR`` over 1,000 generated specs
(benchmarks/_workload.py, the same as bench_spec_validate). The console script is the
installed one beside this interpreter. One warm-up round first writes the bytecode caches, as
a user's first run does (``PYTHONDONTWRITEBYTECODE`` is dropped from the children's
environment: with it, every run recompiles every module, which no installed CLI does).

Prints two lines:
  cli_startup: validate_p50_s=… help_p50_s=… python_p50_s=… validate_ratio=…x help_ratio=…x per_spec_ms=… deps_ratio=…x
  cli_startup_cpu: validate_p50_s=… help_p50_s=… python_p50_s=… validate_ratio=…x help_ratio=…x
- *_p50_s: the median wall seconds of the command (cpu line: its user+system CPU seconds);
- *_ratio: that median over the median of ``python -c pass`` of the same rounds;
- deps_ratio: the median of importing pydantic, typer and PyYAML alone over bare Python's;
- per_spec_ms: (median of validate DIR − median of validate ONE) / 999, the cost of each
  further spec once the command has started.
Targets (issue 19): validate ONE under 0.3 s and within 6× of bare Python; per_spec_ms < 0.5.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import ROOT, temp_dir
from _workload import job_spec_texts

N = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
ONE = ROOT / "jobs/vision/train-classifier.yaml"


def _timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, from the child's rusage) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    code = subprocess.run(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    ).returncode
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {code}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    cli = str(Path(sys.executable).parent / "airflow-platform")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE",)}
    env.pop("AIRFLOW_PLATFORM_CONFIG", None)
    folder = temp_dir("cli-startup")
    try:
        for name, text in job_spec_texts(N):
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        commands = {
            "python": [sys.executable, "-c", "pass"],
            "deps": [sys.executable, "-c", "import pydantic.main, typer, yaml"],
            "validate": [cli, "validate", str(ONE)],
            "help": [cli, "--help"],
            "many": [cli, "validate", str(folder)],
        }
        for argv in commands.values():  # warm-up: bytecode caches, the page cache
            _timed(argv, env)
        wall: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(ROUNDS):
            for name, argv in commands.items():
                w, c = _timed(argv, env)
                wall[name].append(w)
                cpu[name].append(c)
        w = {name: statistics.median(v) for name, v in wall.items()}
        c = {name: statistics.median(v) for name, v in cpu.items()}
        per_spec_ms = (w["many"] - w["validate"]) / (N - 1) * 1e3
        print(
            f"cli_startup: validate_p50_s={w['validate']:.3f} help_p50_s={w['help']:.3f} "
            f"python_p50_s={w['python']:.3f} validate_ratio={w['validate'] / w['python']:.1f}x "
            f"help_ratio={w['help'] / w['python']:.1f}x per_spec_ms={per_spec_ms:.3f} "
            f"deps_ratio={w['deps'] / w['python']:.1f}x"
        )
        print(
            f"cli_startup_cpu: validate_p50_s={c['validate']:.3f} help_p50_s={c['help']:.3f} "
            f"python_p50_s={c['python']:.3f} validate_ratio={c['validate'] / c['python']:.1f}x "
            f"help_ratio={c['help'] / c['python']:.1f}x",
            flush=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
