"""scripts/build-images.py: which files of a build context an image's hash covers.

An image is rebuilt exactly when its inputs change, so the hash must cover every file the
build can copy (its dockerignore lets through) and nothing else.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.harness.tools import REPO_ROOT

pytestmark = pytest.mark.unit


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_images", REPO_ROOT / "scripts" / "build-images.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


BUILD = _script()


def _context(tmp_path: Path, ignore: str) -> object:
    (tmp_path / "Dockerfile").write_text("ARG BASE=x:1\nFROM ${BASE}\nCOPY app /app\n")
    (tmp_path / "Dockerfile.dockerignore").write_text(ignore)
    for name in ("app/main.py", "app/__pycache__/main.pyc", "docs/guide.md", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    return BUILD.Artifact("team/app", tmp_path, tmp_path / "Dockerfile")


def test_dockerignore_exceptions_re_include_only_what_they_name(tmp_path: Path) -> None:
    """`*` then `!app/` keeps the app folder; `**/__pycache__` drops bytecode inside it."""
    artifact = _context(tmp_path, "*\n!app/\n**/__pycache__\n")
    files = [p.relative_to(tmp_path).as_posix() for p in BUILD.context_files(artifact)]
    assert files == ["app/main.py"]


def test_hash_changes_with_a_copied_file_and_not_with_an_ignored_one(tmp_path: Path) -> None:
    artifact = _context(tmp_path, "*\n!app/\n")
    before = BUILD.input_hash(artifact, "base1", {})
    (tmp_path / "notes.txt").write_text("changed")
    assert BUILD.input_hash(artifact, "base1", {}) == before
    (tmp_path / "app" / "main.py").write_text("changed")
    changed = BUILD.input_hash(artifact, "base1", {})
    assert changed != before
    assert BUILD.input_hash(artifact, "base2", {}) != changed, "a new base layer rebuilds"


@pytest.mark.parametrize("artifact", BUILD.artifacts(), ids=lambda a: a.name)
def test_every_repository_image_hashes_the_files_it_copies(artifact: object) -> None:
    """For each image of skaffold.yaml, every file under a COPY source is in its hash."""
    included = set(BUILD.context_files(artifact))
    for raw in artifact.dockerfile.read_text().splitlines():  # type: ignore[attr-defined]
        words = raw.split()
        if not words or words[0] != "COPY" or any(w.startswith("--from=") for w in words):
            continue  # not a COPY, or one from a build stage rather than the context
        for source in [w for w in words[1:] if not w.startswith("--")][:-1]:
            path = artifact.context / source  # type: ignore[attr-defined]
            copied = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            copied = [p for p in copied if "__pycache__" not in p.parts]
            assert copied, source
            assert set(copied) <= included, source
