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
import struct
import zipfile
import zlib
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
    return write_zip(collect(source, extra_excludes, extra))


def write_zip(entries: Iterable[tuple[str, Path]]) -> Package:
    """The canonical zip of ``entries`` (archive name, path), written in the order given.

    Callers that merge trees (lambdaform.dependencies: source + installed dependencies) pass their
    entries sorted by archive name, as :func:`collect` returns them.
    """
    buffer = io.BytesIO()
    names = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for rel, path in entries:
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


@dataclass(frozen=True)
class Member:
    """One entry of a canonical zip, already compressed: lets a cached tree's entries be reused as they are."""

    name: str
    crc: int
    size: int
    compressed: bytes
    executable: bool


def members(package: Package, prefix: str = "") -> list[Member]:
    """The entries of a canonical zip (one :func:`write_zip` or :func:`assemble_zip` wrote), names prefixed."""
    result = []
    view = memoryview(package.data)
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        for info in archive.infolist():
            name_len, extra_len = struct.unpack("<HH", view[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            executable = bool((info.external_attr >> 16) & stat.S_IXUSR)
            result.append(Member(prefix + info.filename, info.CRC, info.file_size,
                                 bytes(view[start:start + info.compress_size]), executable))
    return result


def compress_member(rel: str, path: Path) -> Member:
    """A file as a canonical zip entry (the compression :func:`write_zip` applies)."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise PackagingError(f"cannot read {path}: {exc.strerror}") from None
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressed = compressor.compress(data) + compressor.flush()
    executable = bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    return Member(rel, zlib.crc32(data), len(data), compressed, executable)


def assemble_zip(entries: Sequence[Member]) -> Package:
    """The canonical zip of already-compressed entries, in the order given: the same bytes
    :func:`write_zip` gives for the same files (tests/test_dependencies.py proves it)."""
    out = io.BytesIO()
    infos = []
    for member in entries:
        info = zipfile.ZipInfo(member.name, date_time=FIXED_DATE)
        info.create_system = 3
        info.external_attr = ((stat.S_IFREG | (0o755 if member.executable else 0o644)) & 0xFFFF) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        info.CRC, info.file_size, info.compress_size = member.crc, member.size, len(member.compressed)
        info.header_offset = out.tell()
        if max(info.file_size, info.compress_size, info.header_offset) > zipfile.ZIP64_LIMIT:
            raise PackagingError(f"{member.name}: the package is above 4 GB (Lambda's limit is 250 MB)")
        out.write(info.FileHeader(zip64=False))
        out.write(member.compressed)
        infos.append(info)
    start = out.tell()
    dosdate = (FIXED_DATE[0] - 1980) << 9 | FIXED_DATE[1] << 5 | FIXED_DATE[2]
    for info in infos:
        filename, flag_bits = info._encodeFilenameFlags()
        out.write(struct.pack(zipfile.structCentralDir, zipfile.stringCentralDir, info.create_version,
                              info.create_system, info.extract_version, info.reserved, flag_bits,
                              info.compress_type, 0, dosdate, info.CRC, info.compress_size, info.file_size,
                              len(filename), 0, 0, 0, info.internal_attr, info.external_attr,
                              info.header_offset))
        out.write(filename)
    end = out.tell()
    if len(infos) > zipfile.ZIP_FILECOUNT_LIMIT:
        raise PackagingError("the package has more than 65,535 files")
    out.write(struct.pack(zipfile.structEndArchive, zipfile.stringEndArchive, 0, 0, len(infos), len(infos),
                          end - start, start, 0))
    return Package(data=out.getvalue(), files=tuple(member.name for member in entries))
