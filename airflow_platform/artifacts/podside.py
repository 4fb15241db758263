"""The transfer containers of a job pod (``python -m airflow_platform.artifacts.podside``).

``fetch`` (an init container) puts each upstream task's outputs under the input folder before
the job starts; ``keep`` (a native sidecar) waits for the job to end — the kubelet sends it
SIGTERM once the job's container has exited, for whatever reason — then keeps the output
folder in the store. The keeper runs as its container's PID 1, to which the kernel delivers
no signal it has not asked for: a SIGTERM sent before it blocks the signal would be lost and
the keeper would wait until the pod is killed. So it writes its ``--ready`` file once the
signal is blocked, and the pod's startup probe holds the job back until that file exists.
Each writes a one-line JSON report to its termination message, which the operator reads
from the pod's status (``airflow_platform.artifacts.pod.report``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from airflow_platform.artifacts import store
from airflow_platform.artifacts.layout import MATRIX_FILE
from airflow_platform.gates import ResultError, read_result

TERMINATION_LOG = Path("/dev/termination-log")


def _report(data: dict[str, Any], log: Path) -> None:
    line = json.dumps(data, sort_keys=True)
    with contextlib.suppress(OSError):  # outside a pod, stdout is the report
        log.write_text(line[:4000])  # the kubelet keeps at most 4096 bytes of it
    print(line, flush=True)


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--termination-log", type=Path, default=TERMINATION_LOG)


def _fetch(args: argparse.Namespace) -> int:
    s3 = store.client(args.endpoint, args.region)
    fetched: dict[str, int] = {}
    for sweep in args.matrix:  # a sweep's combinations' values, beside their folders
        name, _, listed = sweep.partition("=")
        (args.into / name).mkdir(parents=True, exist_ok=True)
        (args.into / name / MATRIX_FILE).write_text(listed + "\n")
    for source in args.sources:
        name, _, prefix = source.partition("=")
        try:
            fetched[name] = store.fetch(s3, args.bucket, prefix, args.into / name)
        except store.TransferError as exc:
            _report({"error": f"upstream task {name}'s outputs: {exc}"}, args.termination_log)
            return 1
    _report({"fetched": fetched}, args.termination_log)
    return 0


def _keep(args: argparse.Namespace) -> int:
    if not args.now:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    if args.ready is not None:
        args.ready.touch()
    s3 = store.client(args.endpoint, args.region)  # made before the wait: the grace is short
    if not args.now:
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    try:
        kept = store.keep(
            s3,
            args.bucket,
            args.source,
            args.prefix,
            task=args.task,
            outputs=args.output,
            cap=args.cap,
            cap_bytes=args.cap_bytes,
        )
    except store.TooLargeError as exc:
        _report({"error": str(exc), "reason": "ArtifactsTooLarge"}, args.termination_log)
        return 1
    except store.TransferError as exc:
        _report({"error": str(exc), "reason": "ArtifactsNotKept"}, args.termination_log)
        return 1
    report: dict[str, Any] = {
        "kept": {"prefix": kept.prefix, "files": kept.files, "bytes": kept.bytes}
    }
    if args.result:
        # Read here and told to the operator in the report: the job may have failed, so a
        # missing or bad result is the operator's to judge, never an error of the keeper.
        declared = dict(item.partition("=")[::2] for item in args.result)
        try:
            report["result"] = read_result(args.source, declared, args.result_cap)
        except ResultError as exc:
            report["result_error"] = str(exc)
    _report(report, args.termination_log)
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m airflow_platform.artifacts.podside")
    commands = main.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="fetch upstream outputs into the input folder")
    _store_arguments(fetch)
    fetch.add_argument("--into", type=Path, required=True)
    fetch.add_argument("--matrix", action="append", default=[], metavar="TASK=JSON")
    fetch.add_argument("sources", nargs="*", metavar="TASK=PREFIX")
    fetch.set_defaults(run=_fetch)
    keep = commands.add_parser("keep", help="keep the output folder once the job has ended")
    _store_arguments(keep)
    keep.add_argument("--from", dest="source", type=Path, required=True)
    keep.add_argument("--to", dest="prefix", required=True)
    keep.add_argument("--task", required=True)
    keep.add_argument("--cap", required=True)
    keep.add_argument("--cap-bytes", type=int, required=True)
    keep.add_argument("--output", action="append", default=None, metavar="GLOB")
    keep.add_argument("--result", action="append", default=[], metavar="KEY=TYPE")
    keep.add_argument("--result-cap", type=int, default=2048)
    keep.add_argument("--now", action="store_true", help="do not wait for SIGTERM")
    keep.add_argument(
        "--ready", type=Path, default=None, help="file made once SIGTERM can no longer be lost"
    )
    keep.set_defaults(run=_keep)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
