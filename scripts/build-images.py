"""Builds the images of skaffold.yaml without a registry or a Docker engine (`make images`).

Each artifact's Dockerfile is built by buildah exactly as a production build would build it,
except for one thing: its `BASE` build argument, which names a pinned public image in
production, is here a Debian 12 rootfs made by mmdebstrap from the Debian packages this machine
can reach. The result is saved as a docker-archive that the test node's containerd imports.

Everything lives in a cache outside the checkout (``$AIRFLOW_PLATFORM_IMAGES``, else
``${XDG_CACHE_HOME:-~/.cache}/airflow-platform/images``), keyed by a hash of each image's inputs
(its Dockerfile, the files of its context that its dockerignore lets through, the base layer
and the images it builds on), so an unchanged image is never rebuilt. ``manifest.json`` there
lists what was built; the test harness reads it.

    python scripts/build-images.py            # every image (cached ones in no time)
    python scripts/build-images.py job-python # only these (and what they build on)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SKAFFOLD = REPO / "skaffold.yaml"
# Image references carry the registry prefix the platform's policy allows, so the test node
# runs exactly the references a job spec names.
REGISTRY = "registry.internal"
# Artifacts that cannot be built on these machines, and why; they stay render-only.
RENDER_ONLY = {"airflow-platform/job-gpu": "its CUDA base image cannot be built or pulled here"}
# The Debian 12 base layer: what every Dockerfile's default BASE provides (Python 3.11 with
# venv, `python`, CA certificates), from Debian's own packages.
BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates")
BASE_NAME = "localhost/airflow-platform/debian-base"
# The builder base for Dockerfiles that compile Go (`ARG GO_IMAGE`): the Debian base with this
# machine's Go toolchain, the version their pinned golang image names.
GO_BASE_NAME = "localhost/airflow-platform/go-builder"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
HASH_LENGTH = 16
_PRIVATE_MOUNTS = "AIRFLOW_PLATFORM_IMAGES_PRIVATE_MOUNTS"


def cache_dir() -> Path:
    explicit = os.environ.get("AIRFLOW_PLATFORM_IMAGES")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "airflow-platform" / "images"


def version() -> str:
    """The package version, the tag every image gets besides its input hash."""
    match = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M)
    if not match:
        sys.exit("build-images: no version in pyproject.toml")
    return match[1]


def log(message: str) -> None:
    print(f"[build-images] {message}", flush=True)


@dataclass
class Artifact:
    """One image of skaffold.yaml."""

    image: str  # e.g. airflow-platform/job-python
    context: Path
    dockerfile: Path
    requires: dict[str, str] = field(default_factory=dict)  # build arg -> required image

    @property
    def name(self) -> str:
        return self.image.rsplit("/", 1)[-1]

    @property
    def repository(self) -> str:
        return f"{REGISTRY}/{self.image}"

    def ignore_file(self) -> Path | None:
        per_file = self.dockerfile.with_name(self.dockerfile.name + ".dockerignore")
        for candidate in (per_file, self.context / ".dockerignore"):
            if candidate.is_file():
                return candidate
        return None


def artifacts() -> list[Artifact]:
    config = yaml.safe_load(SKAFFOLD.read_text())
    out = []
    for entry in config["build"]["artifacts"]:
        context = REPO / entry.get("context", ".")
        dockerfile = context / entry.get("docker", {}).get("dockerfile", "Dockerfile")
        requires = {r["alias"]: r["image"] for r in entry.get("requires", [])}
        out.append(Artifact(entry["image"], context, dockerfile, requires))
    return out


# ------------------------------------------------------------------ inputs and their hash


def _ignore_patterns(path: Path | None) -> list[tuple[bool, re.Pattern[str]]]:
    """A dockerignore's patterns as (is_exception, regex), in order (the last match wins)."""
    if path is None:
        return []
    patterns = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        text = line[1:].strip() if negate else line
        text = os.path.normpath(text).lstrip("/")
        regex = ""
        i = 0
        while i < len(text):
            if text.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif text.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif text[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif text[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(text[i]), i + 1
        patterns.append((negate, re.compile(regex)))
    return patterns


def _ignored(relative: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    # As Docker does: a pattern matches a path or any of its parent folders.
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for negate, pattern in patterns:
        if any(pattern.fullmatch(p) for p in prefixes):
            ignored = not negate
    return ignored


def context_files(artifact: Artifact) -> list[Path]:
    """The files of the build context its dockerignore lets through, sorted."""
    patterns = _ignore_patterns(artifact.ignore_file())
    exceptions = [p.pattern for negate, p in patterns if negate]
    files = []
    for root, dirs, names in os.walk(artifact.context):
        rel_root = Path(root).relative_to(artifact.context).as_posix()
        rel_root = "" if rel_root == "." else rel_root + "/"
        # Skip a folder that is ignored and that no exception could reach into.
        dirs[:] = sorted(
            d
            for d in dirs
            if not (
                _ignored(rel_root + d, patterns)
                and not any(e.startswith(re.escape(rel_root + d)) for e in exceptions)
            )
        )
        files += [Path(root) / n for n in names if not _ignored(rel_root + n, patterns)]
    return sorted(files)


def input_hash(artifact: Artifact, base_hash: str, required: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for part in (artifact.image, version(), base_hash, json.dumps(required, sort_keys=True)):
        digest.update(part.encode() + b"\0")
    digest.update(artifact.dockerfile.read_bytes() + b"\0")
    for path in context_files(artifact):
        relative = path.relative_to(artifact.context).as_posix()
        digest.update(f"{relative}\0{path.stat().st_mode & 0o111}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:HASH_LENGTH]


# -------------------------------------------------------------------------------- building


class Builder:
    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.archives = cache / "archives"
        self.archives.mkdir(parents=True, exist_ok=True)
        self.storage = ["--root", str(cache / "storage"), "--runroot", str(cache / "run")]
        self.storage += ["--storage-driver", "overlay"]

    def buildah(self, *args: str, capture: bool = False) -> str:
        result = subprocess.run(
            ["buildah", *self.storage, *args],
            check=False,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        if result.returncode != 0:
            detail = (result.stderr or "").strip()
            sys.exit(f"build-images: buildah {' '.join(args[:2])} failed {detail}".rstrip())
        return result.stdout or ""

    def has_image(self, ref: str) -> bool:
        return (
            subprocess.run(
                ["buildah", *self.storage, "inspect", "--type", "image", ref],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def base(self) -> tuple[str, str]:
        """The Debian base layer as a local image: (reference, hash of what it is made of)."""
        sources = _apt_sources()
        digest = hashlib.sha256(
            json.dumps([BASE_SUITE, BASE_PACKAGES, sources], sort_keys=True).encode()
        ).hexdigest()[:HASH_LENGTH]
        ref = f"{BASE_NAME}:{digest}"
        if self.has_image(ref):
            log(f"base {ref}: cached")
            return ref, digest
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="airflow-platform-base-") as tmp:
            rootfs = Path(tmp) / "rootfs.tar"
            subprocess.run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    "--format=tar",
                    BASE_SUITE,
                    str(rootfs),
                    "-",
                ],
                input="\n".join(sources),
                text=True,
                check=True,
            )
            container = self.buildah("from", "scratch", capture=True).strip()
            mount = self.buildah("mount", container, capture=True).strip()
            subprocess.run(["tar", "-C", mount, "-xf", str(rootfs)], check=True)
            self.buildah("umount", container, capture=True)
            self.buildah("commit", "--quiet", container, ref, capture=True)
            self.buildah("rm", container, capture=True)
        log(f"base {ref}: built in {time.monotonic() - start:.0f} s")
        return ref, digest

    def go_base(self, base_ref: str, base_hash: str) -> tuple[str, str]:
        """The Debian base plus the Go toolchain at /usr/local/go: (reference, hash)."""
        goroot = Path(
            subprocess.run(
                ["go", "env", "GOROOT"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
        go_version = (goroot / "VERSION").read_text().split()[0]
        digest = hashlib.sha256(f"{base_hash}|{go_version}".encode()).hexdigest()[:HASH_LENGTH]
        ref = f"{GO_BASE_NAME}:{digest}"
        if self.has_image(ref):
            return ref, digest
        start = time.monotonic()
        container = self.buildah("from", "--pull=never", base_ref, capture=True).strip()
        self.buildah("copy", container, str(goroot), "/usr/local/go", capture=True)
        self.buildah(
            "config",
            "--env",
            "PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            "GOPATH=/go",
            container,
            capture=True,
        )
        self.buildah("commit", "--quiet", container, ref, capture=True)
        self.buildah("rm", container, capture=True)
        log(f"go builder {ref} ({go_version}): built in {time.monotonic() - start:.0f} s")
        return ref, digest

    def build(self, artifact: Artifact, base_ref: str, args: dict[str, str], digest: str) -> Path:
        tags = [f"{artifact.repository}:{version()}", f"{artifact.repository}:{digest}"]
        archive = self.archives / f"{artifact.name}-{digest}.tar"
        if archive.is_file():
            log(f"{tags[0]}: cached ({digest})")
            return archive
        start = time.monotonic()
        command = [
            "bud",
            "--quiet",
            "--pull=never",
            # chroot isolation: the build's RUN steps need no OCI runtime features, and runc's
            # default spec asks for an oom_score_adj these machines do not allow.
            "--isolation=chroot",
            # RUN steps fetch packages (apt, PyPI); the build is not test traffic.
            "--network=host",
            "--layers",
            "--file",
            str(artifact.dockerfile),
        ]
        # An image built on another artifact gets that one as BASE (skaffold's `requires`).
        for name, value in {"BASE": base_ref, **args}.items():
            command += ["--build-arg", f"{name}={value}"]
        bundle = _host_ca_bundle()
        if bundle is not None:
            # The host's CA bundle, for package downloads through a TLS-intercepting proxy; a
            # build secret is never stored in the image.
            command += ["--secret", f"id=build-ca,src={bundle}"]
        ignore = artifact.ignore_file()
        if ignore is not None:
            command += ["--ignorefile", str(ignore)]
        for tag in tags:
            command += ["--tag", tag]
        self.buildah(*command, str(artifact.context), capture=True)
        partial = archive.with_suffix(".partial")
        self.buildah("push", "--quiet", tags[0], f"docker-archive:{partial}:{tags[0]}")
        partial.rename(archive)
        for stale in self.archives.glob(f"{artifact.name}-*.tar"):
            if stale != archive:
                stale.unlink()
        log(f"{tags[0]}: built in {time.monotonic() - start:.0f} s ({digest})")
        return archive


def sandbox_image(builder: Builder) -> dict[str, str]:
    """The test node's sandbox ("pause") image: the pause program of images/pause (built by
    scripts/install-tools.sh) alone in a scratch image. Never shipped: clusters have their own."""
    source = REPO / "images" / "pause"
    digest = hashlib.sha256(
        (source / "go.mod").read_bytes() + (source / "pause.go").read_bytes()
    ).hexdigest()[:12]
    tools = Path(
        os.environ.get("AIRFLOW_PLATFORM_TOOLS")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "airflow-platform"
        / "tools"
    )
    binary = tools / f"pause-{digest}" / "pause"
    if not binary.is_file():
        sys.exit(f"build-images: {binary} is missing; run `make tools` first")
    ref = f"{REGISTRY}/airflow-platform/pause:{digest}"
    archive = builder.archives / f"pause-{digest}.tar"
    if not archive.is_file():
        container = builder.buildah("from", "scratch", capture=True).strip()
        builder.buildah("copy", "--chmod", "0755", container, str(binary), "/pause", capture=True)
        builder.buildah(
            "config", "--entrypoint", '["/pause"]', "--user", "65535:65535", container, capture=True
        )
        builder.buildah("commit", "--quiet", container, ref, capture=True)
        builder.buildah("rm", container, capture=True)
        partial = archive.with_suffix(".partial")
        builder.buildah("push", "--quiet", ref, f"docker-archive:{partial}:{ref}", capture=True)
        partial.rename(archive)
        log(f"{ref}: built")
    return {"ref": ref, "digest_ref": ref, "archive": str(archive)}


def _host_ca_bundle() -> Path | None:
    for candidate in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _apt_sources() -> list[str]:
    """The apt sources this machine is configured with: the base layer uses the same mirror."""
    texts = []
    for path in APT_SOURCES:
        files = (
            sorted(path.glob("*.sources")) + sorted(path.glob("*.list"))
            if path.is_dir()
            else [path]
        )
        texts += [f.read_text() for f in files if f.is_file() and f.read_text().strip()]
    if not texts:
        sys.exit("build-images: no apt sources found under /etc/apt; mmdebstrap needs a mirror")
    return texts


def _order(chosen: list[Artifact], everything: dict[str, Artifact]) -> list[Artifact]:
    """The chosen artifacts and what they build on, each after its requirements."""
    ordered: list[Artifact] = []

    def visit(artifact: Artifact) -> None:
        if artifact in ordered:
            return
        for required in artifact.requires.values():
            visit(everything[required])
        ordered.append(artifact)

    for artifact in chosen:
        visit(artifact)
    return ordered


def main(argv: list[str]) -> int:
    if os.environ.get(_PRIVATE_MOUNTS) != "1":
        # buildah mounts its storage and each build's rootfs; in a mount namespace of our own
        # they all vanish when the build ends instead of staying on the machine.
        os.environ[_PRIVATE_MOUNTS] = "1"
        unshare = ["unshare", "--mount", "--propagation", "private", "--"]
        os.execvp("unshare", [*unshare, sys.executable, __file__, *argv])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="image names (e.g. job-python); default: all")
    options = parser.parse_args(argv)
    for tool in ("buildah", "mmdebstrap"):
        if shutil.which(tool) is None:
            sys.exit(
                f"build-images: {tool} is not installed; run `make system-packages` "
                "(scripts/system-packages.txt pins it)"
            )
    everything = {a.image: a for a in artifacts()}
    by_name = {a.name: a for a in everything.values()}
    unknown = [n for n in options.names if n not in by_name]
    if unknown:
        sys.exit(f"build-images: unknown image {', '.join(unknown)}; known: {', '.join(by_name)}")
    chosen = [by_name[n] for n in options.names] or list(everything.values())
    cache = cache_dir()
    builder = Builder(cache)
    total = time.monotonic()
    base_ref, base_hash = builder.base()
    built: dict[str, dict[str, str]] = {}
    manifest_path = cache / "manifest.json"
    if manifest_path.is_file():
        built = json.loads(manifest_path.read_text()).get("images", {})
    hashes: dict[str, str] = {}
    for artifact in _order(chosen, everything):
        if artifact.image in RENDER_ONLY:
            log(f"{artifact.image}: not built, {RENDER_ONLY[artifact.image]} (render-only)")
            continue
        args = {
            alias: f"{everything[image].repository}:{hashes[image]}"
            for alias, image in artifact.requires.items()
        }
        if re.search(r"^ARG GO_IMAGE=", artifact.dockerfile.read_text(), re.M):
            args["GO_IMAGE"], _ = builder.go_base(base_ref, base_hash)
        digest = input_hash(artifact, base_hash, args)
        archive = builder.build(artifact, base_ref, args, digest)
        hashes[artifact.image] = digest
        built[artifact.name] = {
            "ref": f"{artifact.repository}:{version()}",
            "digest_ref": f"{artifact.repository}:{digest}",
            "archive": str(archive),
        }
    built["pause"] = sandbox_image(builder)
    manifest_path.write_text(json.dumps({"images": built}, indent=2, sort_keys=True) + "\n")
    log(
        f"{len(hashes)} image(s) ready in {time.monotonic() - total:.0f} s; list in {manifest_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
