"""Moving a task's artifacts to and from an S3-compatible object store, with boto3.

boto3's managed transfers (s3transfer) stream each file in fixed-size parts, so the memory of
the moving process stays flat whatever the size of the files; they retry throttled and
broken requests, and speak to any S3 API (AWS, SeaweedFS, Ceph) given an endpoint. The
platform image already has boto3 (Airflow's Amazon provider needs it), which is why it is
used here rather than Airflow's ``ObjectStoragePath``: that would import Airflow into the
transfer containers for the same boto3 calls underneath.

Errors are ``TransferError``: one line naming the object and what the store said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from airflow_platform.artifacts.layout import kept_files, too_large

# Parts of 8 MiB, four at a time: at most 32 MiB of buffers in flight for any size of file.
PART_SIZE = 8 * 2**20
CONCURRENCY = 4


class TransferError(Exception):
    """An object could not be moved; the message names it and says why."""


class TooLargeError(TransferError):
    """A task's outputs exceed the platform's per-task cap; nothing of them was kept."""


@dataclass(frozen=True, slots=True)
class Kept:
    """What a try kept: its key prefix, how many files and bytes."""

    prefix: str
    files: int
    bytes: int


def client(endpoint: str, region: str) -> Any:
    """An S3 client for ``endpoint``; credentials come from the environment
    (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, set from the store's Secret)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        # Path-style addressing: S3-compatible stores rarely have a DNS name per bucket.
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        ),
    )


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=PART_SIZE,
        multipart_chunksize=PART_SIZE,
        max_concurrency=CONCURRENCY,
        io_chunksize=256 * 2**10,
    )


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'error')}: {error.get('Message') or 'no message'}"
    return str(exc) or type(exc).__name__


def keep(
    s3: Any,
    bucket: str,
    folder: Path,
    prefix: str,
    *,
    task: str,
    outputs: Sequence[str] | None,
    cap: str,
    cap_bytes: int,
) -> Kept:
    """Uploads the files of ``folder`` that the task keeps (all, or what ``outputs`` matches)
    under ``prefix``. Over the cap nothing is uploaded (``TooLargeError``, naming the cap)."""
    files = kept_files(folder, outputs)
    size = sum(f.stat().st_size for f in files)
    if size > cap_bytes:
        raise TooLargeError(too_large(task, size, cap, "not kept (the pod's folder ends with it)"))
    config = _transfer_config()
    for path in files:
        key = prefix + path.relative_to(folder).as_posix()
        try:
            s3.upload_file(str(path), bucket, key, Config=config)
        except Exception as exc:
            raise TransferError(f"cannot keep s3://{bucket}/{key}: {_why(exc)}") from None
    return Kept(prefix, len(files), size)


def fetch(s3: Any, bucket: str, prefix: str, into: Path) -> int:
    """Downloads every object under ``prefix`` into ``into`` (keys relative to the prefix);
    returns the number of bytes. A key that would land outside ``into`` is refused."""
    into.mkdir(parents=True, exist_ok=True)
    config = _transfer_config()
    total = 0
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        objects = [item for page in pages for item in page.get("Contents", [])]
    except Exception as exc:
        raise TransferError(f"cannot list s3://{bucket}/{prefix}: {_why(exc)}") from None
    for item in objects:
        key = str(item["Key"])
        relative = PurePosixPath(key[len(prefix) :])
        if not relative.parts or any(part in ("", ".", "..") for part in relative.parts):
            raise TransferError(f"refusing s3://{bucket}/{key}: its name leaves the input folder")
        target = into.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, key, str(target), Config=config)
        except Exception as exc:
            raise TransferError(f"cannot fetch s3://{bucket}/{key}: {_why(exc)}") from None
        total += int(item.get("Size", 0))
    return total
