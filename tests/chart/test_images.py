"""The Dockerfiles under images/: parsed and checked for pinned bases and non-root users."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_platform.pods import JOB_UID
from tests.harness.tools import REPO_ROOT

pytestmark = pytest.mark.chart

IMAGES = REPO_ROOT / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    out = []
    for line in logical:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _final_user(dockerfile: Path) -> str | None:
    users = [args for word, args in instructions(dockerfile) if word == "USER"]
    return users[-1] if users else None


def test_every_expected_image_exists() -> None:
    """The platform image, the four job base images (notebook: python with papermill), the
    Kerberos side image, and the chart's embedded PostgreSQL and statsd-exporter."""
    assert {p.parent.name for p in DOCKERFILES} == {
        "airflow", "python", "gpu", "spark", "notebook", "krb5", "postgresql", "statsd-exporter",
    }  # fmt: skip


# The base layers a test build may replace: the image's own, and a Go builder stage's.
BASE_ARGS = {"BASE", "GO_IMAGE"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_base_layers_are_the_only_build_arguments_and_their_defaults_are_pinned(
    dockerfile: Path,
) -> None:
    """What a test build may change is the base layer alone: the final FROM is `${BASE}`, a
    builder stage starts from `${GO_IMAGE}`, no other ARG exists, and each default names an
    explicit tag (or digest), not latest."""
    words = instructions(dockerfile)
    froms = [a for w, a in words if w == "FROM"]
    assert froms[-1] == "${BASE}"
    assert set(froms[:-1]) <= {"${GO_IMAGE} AS build"}
    args = dict(a.partition("=")[::2] for w, a in words if w == "ARG")
    assert "BASE" in args
    assert set(args) <= BASE_ARGS
    for image in args.values():
        name, _, tag = image.rpartition(":")
        assert "@sha256:" in image or (name and "/" not in tag and tag), f"{image} has no tag"
        assert tag != "latest", f"{image} uses latest"


def test_statsd_exporter_image_builds_the_version_the_tests_pin() -> None:
    """The chart's statsd-exporter is the version scripts/versions.env pins for the tests."""
    from tests.harness.tools import versions

    text = (IMAGES / "statsd-exporter" / "Dockerfile").read_text()
    assert f"statsd_exporter@{versions()['STATSD_EXPORTER_VERSION']}" in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_never_mentions_latest(dockerfile: Path) -> None:
    """No `:latest` anywhere, not even for a tool the build pulls."""
    assert ":latest" not in dockerfile.read_text()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    """The last USER is a uid other than 0, so the kubelet can verify runAsNonRoot."""
    user = _final_user(dockerfile)
    assert user is not None, "no USER instruction: the image would run as root"
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER {user} is a name; use the number"
    assert int(uid) != 0


def test_platform_image_installs_airflow_pinned_by_the_lock() -> None:
    """The platform image installs Airflow 3.3.2 and the package constrained by
    requirements.lock (the versions the tests ran with), and runs as the airflow user."""
    dockerfile = IMAGES / "airflow" / "Dockerfile"
    runs = " ".join(args for word, args in instructions(dockerfile) if word == "RUN")
    assert '"apache-airflow==3.3.2"' in runs
    assert "--constraint /tmp/airflow-platform/requirements.lock" in runs
    assert "apache-airflow==3.3.2\n" in (REPO_ROOT / "requirements.lock").read_text()
    assert _final_user(dockerfile) == "50000"


@pytest.mark.parametrize("name", ["python", "gpu", "krb5"])
def test_job_images_run_as_the_uid_job_pods_use(name: str) -> None:
    """Job pods run as the library's JOB_UID; the base images' user is that uid, so it owns
    its home folder."""
    assert _final_user(IMAGES / name / "Dockerfile") == str(JOB_UID)


def test_spark_image_has_a_kerberos_client() -> None:
    """The Spark image installs the MIT Kerberos client for kinit against the platform KDC."""
    text = " ".join(
        args for word, args in instructions(IMAGES / "spark" / "Dockerfile") if word == "RUN"
    )
    assert "krb5-user" in text


ROOT_CONTEXT = ["airflow", "spark"]


@pytest.mark.parametrize("name", ROOT_CONTEXT)
def test_root_context_images_copy_only_what_their_dockerignore_lets_through(name: str) -> None:
    """Every COPY source of an image built from the repository root is re-included by its
    dockerignore, which excludes everything else."""
    ignore = (IMAGES / name / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore
    for word, args in instructions(IMAGES / name / "Dockerfile"):
        if word == "COPY":
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            for source in sources:
                assert source.rstrip("/") in allowed, (
                    f"COPY {source} is excluded by the dockerignore"
                )
                assert (REPO_ROOT / source).exists()


def test_spark_image_runs_the_pyspark_the_lock_pins() -> None:
    """Spark in the image is the pyspark of requirements.lock: the version the platform's
    spark-submit (a dependency of the Airflow provider) talks to."""
    runs = " ".join(
        args for word, args in instructions(IMAGES / "spark" / "Dockerfile") if word == "RUN"
    )
    assert "--constraint /tmp/requirements.lock pyspark" in runs
