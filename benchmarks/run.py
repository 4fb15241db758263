"""Runs every benchmark (``benchmarks/bench_*.py``, sorted), each in its own process.

Each benchmark prints its result line(s) on stdout, which this forwards; progress goes to
stderr. Exits non-zero if any benchmark fails. ``make bench`` runs this; the tests never do.

    python benchmarks/run.py                 # all of them
    python benchmarks/run.py dag_parse ...   # only those whose name contains a given word
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    benches = sorted(HERE.glob("bench_*.py"))
    if argv:
        benches = [b for b in benches if any(word in b.stem for word in argv)]
    print(
        f"# airflow-platform benchmarks: {len(benches)} to run; python {platform.python_version()}"
        f", {os.cpu_count()} CPUs; medians from a shared machine",
        flush=True,
    )
    failed = []
    for bench in benches:
        print(f"# {bench.name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        # stdout passes straight through to ours; so does stderr (progress and errors).
        code = subprocess.run([sys.executable, str(bench)], cwd=HERE.parent, check=False).returncode
        took = time.monotonic() - started
        if code != 0:
            failed.append(bench.name)
            print(f"# {bench.name} FAILED (exit {code}) after {took:.0f} s", flush=True)
        else:
            print(f"# {bench.name}: {took:.0f} s", file=sys.stderr, flush=True)
    if failed:
        print(f"# failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
