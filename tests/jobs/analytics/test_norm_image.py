"""The job's image: built FROM the platform's job base image by BASE alone, its libraries
pinned by requirements.lock, the Stan model compiled in at build time, run as the job user."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_platform.pods import JOB_UID
from tests.chart.test_images import instructions

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "jobs" / "analytics" / "norm" / "Dockerfile"


def test_base_is_the_only_argument_and_defaults_to_the_job_python_image() -> None:
    words = instructions(DOCKERFILE)
    assert words[:2] == [
        ("ARG", "BASE=registry.internal/airflow-platform/job-python:1.0"),
        ("FROM", "${BASE}"),
    ]
    assert [a for w, a in words if w == "ARG"] == [
        "BASE=registry.internal/airflow-platform/job-python:1.0"
    ]


def test_libraries_come_pinned_from_the_lock_and_the_model_is_baked_at_build_time() -> None:
    runs = " ".join(a for w, a in instructions(DOCKERFILE) if w == "RUN")
    assert "pip install --quiet --no-cache-dir --constraint /tmp/platform/requirements.lock" in runs
    lock = (REPO / "requirements.lock").read_text()
    for package in ("pystan", "httpstan", "setuptools", "arviz-stats"):
        assert f" {package} " in runs + " "
        assert f"\n{package}==" in lock
    assert "python -m norm.stanmodel" in runs
    gxx = next(
        line
        for line in (REPO / "scripts" / "system-packages.txt").read_text().splitlines()
        if line.startswith("g++=")
    )
    assert gxx in runs
    assert "apt-get purge --yes --auto-remove g++" in runs


def test_it_runs_as_the_job_user_and_copies_only_what_its_dockerignore_lets_through() -> None:
    words = instructions(DOCKERFILE)
    assert [a for w, a in words if w == "USER"][-1] == str(JOB_UID)
    ignore = (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for word, args in words:
        if word == "COPY":
            for source in [a for a in args.split() if not a.startswith("--")][:-1]:
                assert source.rstrip("/") in allowed, (
                    f"COPY {source} is excluded by the dockerignore"
                )
                assert (REPO / source).exists()
