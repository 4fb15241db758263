"""How fast a task's artifacts move through the real object store, beside a plain copy.

A task's output folder of 200 MB, as 1, 100 and 1,000 files, is kept by the transfer program
the pods run (``python -m airflow_platform.artifacts.podside keep``) into a real SeaweedFS on
loopback (tests/harness/objectstore.py), and fetched back by ``podside fetch``, each a fresh
process as in a pod; beside it, ``shutil.copytree`` of the same files on the same disk. The
empty task (nothing to keep, nothing to fetch) gives the fixed cost of the two containers'
programs. Peak memory of the moving process is read from its rusage, for 20 MB and 200 MB in
one file: flat means it streams. The processes are started by a small launcher process made
first: Linux counts, in a new program's peak, the peak of the process that spawned it, so a
launcher started before this one holds 200 MB of test files keeps the figure the child's own.

Prints, per shape (medians of BENCH_ROUNDS rounds, default 3):
  artifacts: files=… size_mb=200 upload_mb_s=… download_mb_s=… copy_mb_s=… upload_vs_copy=…x download_vs_copy=…x
and once:
  artifacts: per_task_overhead_s=… upload_peak_rss_mb_20mb=… upload_peak_rss_mb_200mb=… download_peak_rss_mb_20mb=… download_peak_rss_mb_200mb=…
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness.objectstore import ObjectStore, seaweedfs  # noqa: E402

TOTAL = 200 * 10**6
SHAPES = (1, 100, 1000)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


# Reads one JSON argv per line, runs it, answers "<exit code> <wall s> <peak RSS KiB>".
LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    started = time.perf_counter()
    child = subprocess.Popen(json.loads(line), stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    print(os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss, flush=True)
"""


class Launcher:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": store.access_key,
            "AWS_SECRET_ACCESS_KEY": store.secret_key,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip

    def run(self, *args: str) -> tuple[float, float]:
        """Wall seconds and peak RSS (MB) of one podside process."""
        command, *rest = args
        argv = [
            sys.executable, "-m", "airflow_platform.artifacts.podside", command,
            "--endpoint", self.store.endpoint, "--bucket", self.store.bucket,
            "--termination-log", os.devnull, *rest,
        ]  # fmt: skip
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(argv) + "\n")
        self.process.stdin.flush()
        code, wall, rss = self.process.stdout.readline().split()
        if code != "0":
            raise SystemExit(f"podside {command} exited {code}")
        return float(wall), int(rss) / 1024


def _keep(store: Launcher, folder: Path, prefix: str) -> tuple[float, float]:
    return store.run(
        "keep", "--now", "--from", str(folder), "--to", prefix, "--task", "bench",
        "--cap", "1Gi", "--cap-bytes", str(2**30),
    )  # fmt: skip


def _fetch(store: Launcher, into: Path, prefix: str) -> tuple[float, float]:
    return store.run("fetch", "--into", str(into), f"bench={prefix}")


def _folder(root: Path, files: int, total: int) -> Path:
    folder = root / f"out-{files}"
    size = total // files
    for i in range(files):
        sub = folder / f"part-{i % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        with (sub / f"f{i:04d}.bin").open("wb") as out:
            for start in range(0, size, 2**20):  # a MiB at a time: this process stays small
                out.write(os.urandom(min(2**20, size - start)))
    return folder


def _empty_prefix(store: ObjectStore, prefix: str) -> None:
    client = store.client()
    keys = store.keys(prefix)
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": k} for k in keys[start : start + 1000]]
        client.delete_objects(Bucket=store.bucket, Delete={"Objects": chunk})


def _round_trip(store: Launcher, work: Path, folder: Path) -> tuple[float, float, float]:
    prefix = f"bench-{secrets.token_hex(4)}/"
    up, _ = _keep(store, folder, prefix)
    into = work / "in"
    down, _ = _fetch(store, into, prefix)
    shutil.rmtree(into)
    copy_to = work / "copy"
    started = time.perf_counter()
    shutil.copytree(folder, copy_to)
    os.sync()
    copy = time.perf_counter() - started
    shutil.rmtree(copy_to)
    _empty_prefix(store.store, prefix)
    return up, down, copy


def _rss(store: Launcher, work: Path, size: int) -> tuple[float, float]:
    folder = _folder(work / f"rss-{size}", 1, size)
    prefix = f"bench-rss-{secrets.token_hex(4)}/"
    _, up = _keep(store, folder, prefix)
    _, down = _fetch(store, work / f"rss-in-{size}", prefix)
    _empty_prefix(store.store, prefix)
    shutil.rmtree(folder.parent)
    shutil.rmtree(work / f"rss-in-{size}")
    return up, down


def main() -> int:
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-artifacts-{secrets.token_hex(3)}"
    work.mkdir(parents=True)
    try:
        with seaweedfs(work / "store") as server:
            store = Launcher(server)
            mb = TOTAL / 10**6
            for files in SHAPES:
                folder = _folder(work, files, TOTAL)
                results: list[Any] = [_round_trip(store, work, folder) for _ in range(ROUNDS)]
                shutil.rmtree(folder)
                up, down, copy = (statistics.median(r[i] for r in results) for i in range(3))
                print(
                    f"artifacts: files={files} size_mb={mb:.0f} upload_mb_s={mb / up:.1f} "
                    f"download_mb_s={mb / down:.1f} copy_mb_s={mb / copy:.1f} "
                    f"upload_vs_copy={up / copy:.1f}x download_vs_copy={down / copy:.1f}x",
                    flush=True,
                )
            empty = work / "empty"
            empty.mkdir()
            overhead = []
            for _ in range(ROUNDS):
                prefix = f"bench-empty-{secrets.token_hex(4)}/"
                overhead.append(
                    _keep(store, empty, prefix)[0] + _fetch(store, work / "empty-in", prefix)[0]
                )
            small, large = _rss(store, work, 20 * 10**6), _rss(store, work, TOTAL)
            print(
                f"artifacts: per_task_overhead_s={statistics.median(overhead):.2f} "
                f"upload_peak_rss_mb_20mb={small[0]:.0f} upload_peak_rss_mb_200mb={large[0]:.0f} "
                f"download_peak_rss_mb_20mb={small[1]:.0f} "
                f"download_peak_rss_mb_200mb={large[1]:.0f}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
