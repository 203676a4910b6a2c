"""Dependencies for zip functions and layers: manifest -> pinned set -> installed tree -> canonical zip.

A function folder declares its dependencies in one manifest (:func:`find_manifest`, first match wins):

- ``uv.lock`` beside its ``pyproject.toml``: the locked set is exported as is (``uv export --frozen``, no
  network), dev groups and the project itself left out;
- ``pyproject.toml`` with ``[project].dependencies``: resolved with ``uv pip compile``;
- ``requirements.txt``: resolved with ``uv pip compile``; a file with ``--hash`` pins is already a lock and
  is installed as written, in uv's hash-checking mode (every requirement, transitive ones included, must be
  pinned with a hash).

The pinned set is resolved for the Lambda platform (:class:`Target`), not for this machine, and installed
with uv (the binary from the ``uv`` wheel) into a plain folder: binary wheels only unless
``allow_source_builds`` is set, and then only sdists that build pure-Python wheels. The installed tree is made
canonical (no ``__pycache__``/``.pyc``, no ``bin/`` scripts, no ``RECORD``/``INSTALLER``/``REQUESTED``/
``direct_url.json``), so the zip written by :func:`lambdaform.packaging.write_zip` is byte-identical across
runs, caches and machines for the same pinned set.

Two caches live under :func:`cache_dir`: the resolution (keyed by the manifest bytes, the target, the uv
version and ``allow_source_builds``) and the installed tree (keyed by the pinned set, the target, the uv
version and ``allow_source_builds``). Both are written atomically (temp file or folder, then rename), so
concurrent synths are safe; a warm build starts no uv process and makes no network request.
Unpinned transitive dependencies resolve to the newest release on a cold cache: pin them (``uv.lock`` or a
hashed requirements file) when two machines must produce the same bytes on different days.

Indexes: uv reads ``UV_INDEX_URL`` / ``UV_EXTRA_INDEX_URL`` (and its own ``uv.toml``) itself; when those are
unset, ``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL`` are passed on as ``--index-url`` / ``--extra-index-url``.
pip's configuration files are never read, so a ``pip.conf`` pointing at a local index does not apply.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lambdaform.errors import BuildError, InputError, ToolError
from lambdaform.packaging import (
    Member,
    Package,
    assemble_zip,
    build_zip,
    collect,
    compress_member,
    kit_entries,
    members,
    write_zip,
)

DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024
"""Bytes: the largest zip Lambda accepts inline (``ZipFile``); above it the package goes through S3."""
UNZIPPED_LIMIT = 250 * 1024 * 1024
"""Bytes: the largest a function and all its layers may be once unzipped (262,144,000)."""

Architecture = Literal["x86_64", "arm64"]
ManifestKind = Literal["uv.lock", "pyproject.toml", "requirements.txt", "requirements.txt (hashed)"]

# Lambda's Python runtimes and the OS image each runs on. python3.10/3.11 run on Amazon Linux 2 (glibc 2.26),
# so the newest manylinux they satisfy is manylinux2014 (glibc 2.17; uv's next step is 2.28). python3.12 and
# later run on Amazon Linux 2023 (glibc 2.34): manylinux_2_34, which also accepts every older manylinux tag.
_MANYLINUX = {"3.10": "manylinux2014", "3.11": "manylinux2014", "3.12": "manylinux_2_34",
              "3.13": "manylinux_2_34", "3.14": "manylinux_2_34"}
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
_CACHE_FORMAT = 1  # bump when the canonical tree's layout changes


class DependencyError(BuildError):
    """A function's or layer's dependencies cannot be resolved or installed for its Lambda platform."""


class DependencyToolError(ToolError):
    """uv itself failed (not found, index unreachable) rather than the user's manifest: exit code 1."""

    category = "Build"


@dataclass(frozen=True)
class Target:
    """The Lambda platform a dependency tree is installed for."""

    python_version: str = "3.12"
    """``3.10`` .. ``3.14``, from the runtime ``pythonX.Y``."""
    architecture: Architecture = "x86_64"
    """Lambda's name: ``x86_64`` or ``arm64`` (wheels tagged ``aarch64``)."""

    def __post_init__(self) -> None:
        if self.python_version not in _MANYLINUX:
            raise InputError(f"unsupported Python runtime python{self.python_version} for dependencies "
                             f"(supported: {', '.join('python' + v for v in _MANYLINUX)})")
        if self.architecture not in _MACHINE:
            raise InputError(f"unknown architecture {self.architecture!r} (x86_64 or arm64)")

    @classmethod
    def from_runtime(cls, runtime: str, architecture: Architecture = "x86_64") -> Target:
        """``Target.from_runtime("python3.12", "arm64")``; other runtimes have no Python dependencies."""
        match = re.fullmatch(r"python(3\.\d+)", runtime)
        if not match:
            raise InputError(f"runtime {runtime!r} is not a Python runtime: dependencies are installed only "
                             "for python3.x runtimes (use an image function for others)")
        return cls(match.group(1), architecture)

    @property
    def runtime(self) -> str:
        return f"python{self.python_version}"

    @property
    def python_platform(self) -> str:
        """uv's ``--python-platform``, e.g. ``aarch64-manylinux_2_34``."""
        return f"{_MACHINE[self.architecture]}-{_MANYLINUX[self.python_version]}"

    def __str__(self) -> str:
        return f"{self.runtime} {self.architecture} ({self.python_platform})"


@dataclass(frozen=True)
class Manifest:
    """The file(s) in a source folder that declare its dependencies."""

    kind: ManifestKind
    source: Path
    files: tuple[str, ...]
    """Names relative to ``source``; they are not packaged (see :attr:`excludes`)."""

    @property
    def path(self) -> Path:
        """The file uv reads (``uv.lock``'s project is its ``pyproject.toml``)."""
        return self.source / self.files[0]

    @property
    def excludes(self) -> tuple[str, ...]:
        """Root-level archive names to leave out of the package."""
        return self.files

    def digest_input(self) -> bytes:
        parts = [self.kind.encode()]
        for name in self.files:
            parts += [name.encode(), (self.source / name).read_bytes()]
        return b"\0".join(parts)


def find_manifest(source: Path) -> Manifest | None:
    """The manifest of a function or layer folder, or None when it declares no dependencies."""
    pyproject = source / "pyproject.toml"
    if (source / "uv.lock").is_file():
        if not pyproject.is_file():
            raise DependencyError(f"{source / 'uv.lock'}: a uv.lock needs its pyproject.toml beside it")
        return Manifest("uv.lock", source, ("pyproject.toml", "uv.lock"))
    if pyproject.is_file():
        import tomllib

        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DependencyError(f"{pyproject}: not valid TOML: {exc}") from None
        if project.get("dependencies"):
            return Manifest("pyproject.toml", source, ("pyproject.toml",))
    requirements = source / "requirements.txt"
    if requirements.is_file():
        hashed = "--hash" in requirements.read_text(encoding="utf-8", errors="replace")
        return Manifest("requirements.txt (hashed)" if hashed else "requirements.txt", source,
                        ("requirements.txt",))
    return None


# --- cache --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$LAMBDAFORM_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambdaform``, else ``~/.cache/lambdaform``."""
    if os.environ.get("LAMBDAFORM_CACHE_DIR"):
        return Path(os.environ["LAMBDAFORM_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "lambdaform"
    return Path.home() / ".cache" / "lambdaform"


def uv_version() -> str:
    """The installed uv's version, read from its wheel's dist-info name (no process started)."""
    global _UV_VERSION
    if _UV_VERSION is None:
        import importlib.util

        spec = importlib.util.find_spec("uv")
        found = sorted(Path(spec.origin).parent.parent.glob("uv-*.dist-info")) if spec and spec.origin else []
        if found:
            _UV_VERSION = found[-1].name.removeprefix("uv-").removesuffix(".dist-info")
        else:
            import importlib.metadata

            _UV_VERSION = importlib.metadata.version("uv")
    return _UV_VERSION


_UV_VERSION: str | None = None


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([_CACHE_FORMAT, *parts], separators=(",", ":")).encode()).hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


# --- uv -------------------------------------------------------------------------------------------------


def _uv_bin() -> str:
    try:
        import uv
    except ImportError:
        raise DependencyToolError("uv is not installed (pip install uv); lambdaform installs dependencies "
                                  "with it") from None
    return uv.find_uv_bin()


def _index_args(env: Mapping[str, str]) -> list[str]:
    """PIP_INDEX_URL / PIP_EXTRA_INDEX_URL as uv flags, when uv's own variables are unset."""
    args: list[str] = []
    if not (env.get("UV_INDEX_URL") or env.get("UV_DEFAULT_INDEX")) and env.get("PIP_INDEX_URL"):
        args += ["--index-url", env["PIP_INDEX_URL"]]
    if not (env.get("UV_EXTRA_INDEX_URL") or env.get("UV_INDEX")) and env.get("PIP_EXTRA_INDEX_URL"):
        for url in env["PIP_EXTRA_INDEX_URL"].split():
            args += ["--extra-index-url", url]
    return args


def _run_uv(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    try:
        return subprocess.run([_uv_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True,
                              check=False)
    except OSError as exc:
        raise DependencyToolError(f"cannot run uv: {exc}") from None


def _target_args(target: Target) -> list[str]:
    return ["--python-platform", target.python_platform, "--python-version", target.python_version,
            "--python", sys.executable, *_index_args(os.environ)]


_NO_WHEEL = re.compile(
    r"(?:(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s,]+)|all versions of (?P<any>[A-Za-z0-9._-]+))"
    r" (?:has|have) no (?:usable wheels|wheels with a matching platform tag)")
_UV_PROGRESS = ("Using CPython", "Using Python", "Resolved ", "Prepared ", "Installed ", "Downloading ",
                " Downloaded ", "Downloaded ", "Audited ", " + ", "Building ", "Built ")
_NETWORK = re.compile(r"error sending request|Could not connect|dns error|Connection refused|timed out|"
                      r"Failed to fetch", re.IGNORECASE)


def _fail(manifest: Manifest, target: Target, stderr: str, step: str) -> DependencyError | DependencyToolError:
    """The error for a failed uv run: no wheel for the platform, a network failure, or uv's own words."""
    message = "\n".join(line for line in stderr.strip().splitlines()
                        if line.strip() and not line.startswith(_UV_PROGRESS))
    found = _NO_WHEEL.search(stderr)
    if found:
        name = found.group("name") or found.group("any")
        version = found.group("version") or "(any version)"
        platforms = re.search(r"on the following platforms: (.+)", stderr)
        elsewhere = f" (its wheels are for {platforms.group(1).strip()})" if platforms else ""
        return DependencyError(
            f"{manifest.path}: {name} {version} has no wheel for Lambda {target}{elsewhere}. lambdaform "
            f"installs binary wheels only. Ways out: set `allow_source_builds: true` (pure-Python sdists "
            f"only), or make it an image function (`package: image`) built in a container.")
    if _NETWORK.search(stderr) and "No solution found" not in stderr:
        return DependencyToolError(f"{manifest.path}: {step} for {target} failed (network?):\n{message}")
    if "no trusted hash was provided" in stderr:
        message += ("\nA requirements file with --hash is a lock: pin every dependency, transitive ones "
                    "too, with its hashes (uv pip compile --generate-hashes writes one).")
    return DependencyError(f"{manifest.path}: {step} for {target} failed:\n{message}")


# --- resolve ------------------------------------------------------------------------------------------


def resolve(manifest: Manifest, target: Target, allow_source_builds: bool = False) -> str:
    """The exact pinned set (requirements text) for ``target``; cached by manifest bytes and target."""
    key = _key("resolve", hashlib.sha256(manifest.digest_input()).hexdigest(), target.python_version,
               target.architecture, target.python_platform, uv_version(), allow_source_builds)
    cached = cache_dir() / "resolved" / f"{key}.txt"
    if cached.is_file():
        return cached.read_text(encoding="utf-8")
    if manifest.kind == "requirements.txt (hashed)":
        text = manifest.path.read_text(encoding="utf-8")
    elif manifest.kind == "uv.lock":
        result = _run_uv(["export", "--frozen", "--no-dev", "--no-emit-project", "--no-header",
                          "--no-annotate", "--format", "requirements-txt", "--quiet"], manifest.source)
        if result.returncode != 0:
            raise _fail(manifest, target, result.stderr, "exporting uv.lock")
        text = result.stdout
    else:
        binary = [] if allow_source_builds else ["--only-binary", ":all:"]
        result = _run_uv(["pip", "compile", manifest.files[0], "--no-header", "--no-annotate",
                          "--generate-hashes", *binary, *_target_args(target)], manifest.source)
        if result.returncode != 0:
            raise _fail(manifest, target, result.stderr, "resolving")
        text = result.stdout
    _write_atomic(cached, text)
    return text


# --- install ------------------------------------------------------------------------------------------


_DIST_INFO_DROPPED = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _canonicalise(tree: Path) -> None:
    """Remove what differs between installs (paths, installer, bytecode) and what Lambda never runs."""
    for name in ("bin", ".lock"):
        path = tree / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for dirpath, dirnames, filenames in os.walk(tree):
        base = Path(dirpath)
        for name in [d for d in dirnames if d == "__pycache__"]:
            shutil.rmtree(base / name)
            dirnames.remove(name)
        for name in filenames:
            if name.endswith((".pyc", ".pyo")) or (base.name.endswith(".dist-info")
                                                   and name in _DIST_INFO_DROPPED):
                (base / name).unlink()


def _check_pure_builds(tree: Path, manifest: Manifest, target: Target) -> None:
    """With source builds allowed, a wheel built here must be pure Python (it would be for this machine)."""
    for wheel in sorted(tree.glob("*.dist-info/WHEEL")):
        tags = [line.split(":", 1)[1].strip() for line in wheel.read_text(encoding="utf-8").splitlines()
                if line.startswith("Tag:")]
        local = [tag for tag in tags if not tag.endswith("-any") and "manylinux" not in tag]
        if local:
            dist = wheel.parent.name.removesuffix(".dist-info").replace("-", " ", 1)
            raise DependencyError(
                f"{manifest.path}: {dist} has no wheel for Lambda {target} and its sdist builds a compiled "
                f"wheel ({local[0]}) for this machine, not for Lambda. `allow_source_builds` covers "
                f"pure-Python sdists only: use an image function (`package: image`) for this one.")


@dataclass(frozen=True)
class Installed:
    """A cached, canonical dependency install: ``tree`` (the files) and ``zip`` (their canonical zip)."""

    folder: Path

    @property
    def tree(self) -> Path:
        return self.folder / "tree"

    @property
    def zip(self) -> Path:
        return self.folder / "deps.zip"

    def members(self, prefix: str = "") -> list[Member]:
        data = self.zip.read_bytes()
        return members(Package(data=data, files=()), prefix) if data else []


def install(manifest: Manifest, target: Target, allow_source_builds: bool = False) -> Installed:
    """The canonical install of ``manifest`` for ``target`` (a cached folder: do not modify)."""
    resolved = resolve(manifest, target, allow_source_builds)
    key = _key("tree", resolved, target.python_version, target.architecture, target.python_platform,
               uv_version(), allow_source_builds)
    trees = cache_dir() / "trees"
    final = trees / key
    if final.is_dir():
        return Installed(final)
    trees.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=trees, prefix=".tmp-"))
    try:
        (work / "requirements.txt").write_text(resolved, encoding="utf-8")
        binary = [] if allow_source_builds else ["--only-binary", ":all:"]
        # A hashed requirements file is a lock written by hand or pip-compile: let uv check it is complete.
        deps = ["--require-hashes"] if manifest.kind == "requirements.txt (hashed)" else ["--no-deps"]
        folder = work / "done"
        tree = folder / "tree"
        result = _run_uv(["pip", "install", "--target", str(tree), "-r", str(work / "requirements.txt"),
                          *deps, *binary, *_target_args(target)], manifest.source)
        if result.returncode != 0:
            raise _fail(manifest, target, result.stderr, "installing")
        tree.mkdir(parents=True, exist_ok=True)  # an empty pinned set installs nothing
        _canonicalise(tree)
        if allow_source_builds:
            _check_pure_builds(tree, manifest, target)
        entries = _tree_entries(tree)
        (folder / "deps.zip").write_bytes(write_zip(entries).data if entries else b"")
        try:
            os.rename(folder, final)
        except OSError:
            if not final.is_dir():  # not a concurrent synth that finished first
                raise
        return Installed(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- packages -----------------------------------------------------------------------------------------


def _tree_entries(tree: Path) -> list[tuple[str, Path]]:
    """Every file under ``tree`` as (archive name, path), sorted by archive name."""
    entries = []
    for dirpath, _, filenames in os.walk(tree):
        base = Path(dirpath)
        entries += [((base / name).relative_to(tree).as_posix(), base / name) for name in filenames]
    return sorted(entries)


def _merge(source: list[Member], deps: list[Member], manifest: Manifest, root: str = "") -> list[Member]:
    """Source and dependency entries side by side, sorted; a top-level name in both is an error naming both."""
    def top(name: str) -> str:
        return name[len(root):].split("/", 1)[0] if name.startswith(root) else ""

    deps_by_top: dict[str, str] = {}
    for member in deps:
        deps_by_top.setdefault(top(member.name), member.name)
    for member in source:
        name = top(member.name)
        if name and name in deps_by_top:
            raise DependencyError(
                f"{manifest.source}: source file {member.name} clashes with the dependency file "
                f"{deps_by_top[name]} installed from {manifest.files[-1]}: rename the source file or drop "
                f"the dependency")
    return sorted([*source, *deps], key=lambda member: member.name)


def _source_members(source: Path, excludes: Iterable[str], manifest: Manifest, *, kit: bool = True) -> list[Member]:
    """The source tree's own files (and the handler kit when the code imports it), manifests left out."""
    dropped = set(manifest.excludes)
    extra = kit_entries(source, excludes) if kit else ()
    return [compress_member(rel, path) for rel, path in collect(source, excludes, extra) if rel not in dropped]


def build_function_zip(source: Path, excludes: Iterable[str] = (), target: Target = Target(),
                       allow_source_builds: bool = False) -> Package:
    """The canonical zip of a zip function: its source files and its dependencies at the package root.

    Without a manifest this is exactly :func:`lambdaform.packaging.build_zip` (same bytes). The dependency
    entries come compressed from the cache, so a warm build compresses only the function's own files.
    """
    manifest = find_manifest(source)
    if manifest is None:
        return build_zip(source, excludes)
    installed = install(manifest, target, allow_source_builds)
    return assemble_zip(_merge(_source_members(source, excludes, manifest), installed.members(), manifest))


def build_layer_zip(source: Path, targets: Sequence[Target], excludes: Iterable[str] = (),
                    allow_source_builds: bool = False) -> Package:
    """The canonical zip of a layer folder: its files as they are, dependencies installed under ``python/``.

    A layer folder holds a manifest (installed under ``python/``, where Lambda's Python runtimes look), a
    ready ``python/`` tree, or both. ``targets`` are the layer's compatible runtimes x architectures. One zip
    serves them all only if the installed trees are identical for every target, which holds for pure-Python
    dependencies; compiled ones (``.so`` files, Python-version markers) differ per architecture or Python
    version, and then this raises a :class:`DependencyError` naming a differing file: declare one layer per
    architecture (and runtime) instead.
    """
    if not targets:
        raise InputError(f"layer {source}: no compatible runtime/architecture given")
    manifest = find_manifest(source)
    if manifest is None:
        return build_zip(source, excludes)
    installs = [(target, install(manifest, target, allow_source_builds)) for target in dict.fromkeys(targets)]
    first_target, first = installs[0]
    for target, other in installs[1:]:
        if other.zip.read_bytes() != first.zip.read_bytes():
            ours = {(m.name, m.crc) for m in first.members()}
            theirs = {(m.name, m.crc) for m in other.members()}
            differing = min((name for name, _ in ours ^ theirs), key=lambda name: (not name.endswith(".so"), name))
            raise DependencyError(
                f"layer {manifest.source}: its dependencies differ between {first_target} and {target} "
                f"(e.g. {differing}): a layer with compiled dependencies serves one architecture and one "
                f"Python version. Declare one layer per architecture/runtime.")
    return assemble_zip(_merge(_source_members(source, excludes, manifest, kit=False), first.members("python/"),
                               manifest, root="python/"))


# --- sizes --------------------------------------------------------------------------------------------


def unzipped_size(package: Package) -> int:
    """Bytes the package takes once Lambda unzips it."""
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def needs_s3_upload(package: Package) -> bool:
    """True when the zip is above Lambda's direct-upload limit and must be uploaded through S3."""
    return len(package.data) > DIRECT_UPLOAD_LIMIT


@dataclass(frozen=True)
class SizeReport:
    zipped_bytes: int
    """The function's own zip."""
    unzipped_bytes: int
    """The function and all its layers, unzipped."""
    needs_s3_upload: bool
    """The function's zip is above :data:`DIRECT_UPLOAD_LIMIT`: deploy it from the artifact bucket."""
    layers_needing_s3_upload: tuple[int, ...] = field(default=())
    """Indexes (into ``layer_pkgs``) of layers above the direct-upload limit."""


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def check_sizes(function_pkg: Package, layer_pkgs: Sequence[Package] = (), name: str = "function") -> SizeReport:
    """Lambda's size limits for one function: an InputError above 250 MB unzipped (function + layers)."""
    own = unzipped_size(function_pkg)
    layers = [unzipped_size(layer) for layer in layer_pkgs]
    total = own + sum(layers)
    if total > UNZIPPED_LIMIT:
        raise InputError(
            f"{name}: {_mb(total)} unzipped (code and dependencies {_mb(own)}, layers {_mb(sum(layers))}) is "
            f"above Lambda's {_mb(UNZIPPED_LIMIT)} limit for a function and its layers together. Ways out: "
            f"move dependencies the function does not need at run time out of it and its layers (layers "
            f"count toward the limit too), or make it an image function (`package: image`, up to 10 GB).")
    return SizeReport(zipped_bytes=len(function_pkg.data), unzipped_bytes=total,
                      needs_s3_upload=needs_s3_upload(function_pkg),
                      layers_needing_s3_upload=tuple(i for i, layer in enumerate(layer_pkgs)
                                                     if needs_s3_upload(layer)))
