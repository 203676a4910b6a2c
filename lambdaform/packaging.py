"""Canonical zip packages: the same input bytes give the same zip bytes, on any machine, every time.

Entries are sorted, timestamps fixed (1980-01-01), modes normalised to 0644 / 0755 (the executable bit
is kept where set, e.g. a custom runtime's ``bootstrap``), and caches, compiled files, tests and VCS
folders are left out. Terraform gets the hash as a literal, so an unchanged handler never re-deploys
and a changed one changes only its own hash.

The handler kit (``lambdaform_kit``: JSON logs, client cache, last line of defence) is kept once, in
:func:`kit_root`, and added under ``lambdaform_kit/`` to every package whose Python source mentions
``lambdaform_kit`` (:func:`uses_kit`); other packages (a custom runtime, kit-free user code) get none of it
and keep their bytes. A source folder with its own ``lambdaform_kit/`` is refused.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lambdaform import resources

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
DEFAULT_EXCLUDES = (
    "__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".hg", ".svn",
    ".DS_Store", "tests", "test", "*_test.py", "test_*.py", ".venv", "venv", "node_modules/.cache",
    "*.egg-info", ".coverage", ".env", "Dockerfile*", ".dockerignore",
)
"""Names (any path component) or file globs never packaged."""

KIT_PACKAGE = "lambdaform_kit"
"""The import name of the handler kit, and its folder in a package."""


class PackagingError(Exception):
    """A function folder cannot be packaged (symlink leaving the folder, unreadable file, empty folder)."""


@dataclass(frozen=True)
class Package:
    data: bytes
    files: tuple[str, ...]

    @property
    def source_code_hash(self) -> str:
        """Base64 SHA-256, the form Lambda reports as CodeSha256."""
        return base64.b64encode(hashlib.sha256(self.data).digest()).decode("ascii")


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatch(rel, pattern):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def kit_root() -> Path:
    """The folder holding the ``lambdaform_kit`` package (the one place that knows where it lives)."""
    return resources.kit()


def uses_kit(source: Path, extra_excludes: Iterable[str] = ()) -> bool:
    """Whether any packaged ``.py`` file of ``source`` mentions ``lambdaform_kit`` (e.g. imports it)."""
    needle = KIT_PACKAGE.encode()
    for rel, path in collect(source, extra_excludes):
        if rel.endswith(".py"):
            try:
                if needle in path.read_bytes():
                    return True
            except OSError as exc:
                raise PackagingError(f"cannot read {path}: {exc.strerror}") from None
    return False


def kit_entries(source: Path, extra_excludes: Iterable[str] = ()) -> list[tuple[str, Path]]:
    """The kit's files as (``lambdaform_kit/...``, path) when ``source`` uses the kit, else nothing."""
    if not uses_kit(source, extra_excludes):
        return []
    return [(f"{KIT_PACKAGE}/{rel}", path) for rel, path in collect(kit_root() / KIT_PACKAGE)]


def collect(
    source: Path, extra_excludes: Iterable[str] = (), extra: Sequence[tuple[str, Path]] = ()
) -> list[tuple[str, Path]]:
    """Files to package as (archive name, path), sorted by archive name; ``extra`` entries are merged in."""
    source = source.resolve()
    patterns = (*DEFAULT_EXCLUDES, *extra_excludes)
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(source).as_posix()
        dirnames[:] = sorted(d for d in dirnames if not _excluded(f"{rel_dir}/{d}".lstrip("./"), patterns))
        for name in filenames:
            path = base / name
            rel = path.relative_to(source).as_posix()
            if _excluded(rel, patterns):
                continue
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(source):
                    raise PackagingError(f"{rel} is a symlink leaving {source}")
            found.append((rel, path))
    if not found:
        raise PackagingError(f"{source} has no files to package")
    if any(rel.startswith(f"{KIT_PACKAGE}/") for rel, _ in found):
        raise PackagingError(f"{source} has its own {KIT_PACKAGE}/ folder; lambdaform adds the kit itself "
                             "to every package that imports it: remove the copy")
    if extra:
        names = {rel for rel, _ in found}
        clashes = sorted(rel for rel, _ in extra if rel in names)
        if clashes:
            raise PackagingError(f"{source} already has {clashes[0]}, which lambdaform adds itself")
        found.extend(extra)
    found.sort(key=lambda item: item[0])
    return found


def build_zip(source: Path, extra_excludes: Iterable[str] = (), extra: Sequence[tuple[str, Path]] | None = None) -> Package:
    """The canonical zip of ``source`` (in memory), with ``extra`` entries merged into the listing.

    ``extra`` defaults to :func:`kit_entries`: the handler kit when the source imports it."""
    if extra is None:
        extra = kit_entries(source, extra_excludes)
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for rel, path in collect(source, extra_excludes, extra):
            try:
                data = path.read_bytes()
                mode = path.stat().st_mode
            except OSError as exc:
                raise PackagingError(f"cannot read {path}: {exc.strerror}") from None
            info = zipfile.ZipInfo(rel, date_time=FIXED_DATE)
            info.create_system = 3  # Unix, so Lambda honours the permission bits
            executable = bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
            info.external_attr = ((stat.S_IFREG | (0o755 if executable else 0o644)) & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            names.append(rel)
    return Package(data=buffer.getvalue(), files=tuple(names))
