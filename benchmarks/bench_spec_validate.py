"""How long loading and validating one job spec takes, over 1,000 distinct spec files.

Generates 1,000 valid job specs (all teams, CPU and GPU flavors, every duration style, string
and exec-form scripts, 0-4 env vars, some secrets, schedules, retries) into a temporary folder,
then, in this one process and with the platform config loaded once, runs
``airflow_platform.validation.validate_file`` on every file (YAML load, models, policy) in
``ROUNDS`` rounds. Each spec is timed on its own.

Prints one line:  spec_validate: N=1000 median_ms_per_spec=… p95_ms=…
- median_ms_per_spec: the median over the rounds of a round's time per spec (total / N);
- p95_ms: the 95th percentile of the single-spec times of all rounds.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, then this folder
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import p95, temp_dir
from _workload import job_spec_texts

from airflow_platform.config import load_config
from airflow_platform.validation import validate_file

N = 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def main() -> int:
    folder = temp_dir("specs")
    try:
        paths = []
        for name, text in job_spec_texts(N):
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths.append(path)
        config = load_config()
        per_round, singles = [], []
        for _ in range(ROUNDS):
            clock = time.perf_counter
            started = clock()
            for path in paths:
                t0 = clock()
                validate_file(path, config)
                singles.append(clock() - t0)
            per_round.append((clock() - started) / N)
        print(
            f"spec_validate: N={N} median_ms_per_spec={statistics.median(per_round) * 1e3:.3f} "
            f"p95_ms={p95(singles) * 1e3:.3f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
