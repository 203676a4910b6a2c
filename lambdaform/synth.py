"""Synthesize a service: stacks, packaged handlers and rendered artifacts, written atomically.

Output layout (``OUT`` defaults to ``cdktf.out``)::

    OUT/manifest.json                      cdktf's manifest (also read by ``npx cdktf``)
    OUT/stacks/<stack>/cdk.tf.json         Terraform JSON of each stack
    OUT/stacks/<stack>/assets/<fn>.zip     canonical zip of each zip function (with its Python dependencies)
    OUT/stacks/<stack>/assets/<key>_layer.zip  canonical zip of each layer under ``layers:``
    OUT/docker/<fn>/Dockerfile.lambda      rendered Dockerfile (+ .dockerignore) of each image function
    OUT/docker/<fn>/lambdaform_kit/        the handler kit, the build's ``kit`` context (image uses the kit)

Everything is written to a sibling temporary folder first and moved into place only when complete; an
error or Ctrl-C leaves the previous output untouched and no partial folder behind.

A synth never repeats work: its inputs (the service file, every folder it packages or builds an image from,
the Dockerfiles, the chosen environments and output folder, lambdaform's own code, templates and handler kit,
and the cdktf and provider binding versions) are hashed into one key, stored beside the output in
``OUT/.lambdaform-synth.json``. When the key matches, the previous output is reused as it is, without
starting jsii; any change in any input synthesizes anew, and ``force=True`` (``--force``) always does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
from importlib import metadata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdaform import resources
from lambdaform.console import Output
from lambdaform.errors import BuildError
from lambdaform.dependencies import check_sizes, needs_s3_upload
from lambdaform.kinds import PackageSpec
from lambdaform.kinds.layer import function_layers
from lambdaform.loader import LoadedService
from lambdaform.packaging import (
    DEFAULT_EXCLUDES,
    KIT_PACKAGE,
    Package,
    PackagingError,
    collect,
    kit_entries,
)
from lambdaform.render import render
from lambdaform.service import Service

Progress = Callable[[str], None]

KEY_FILE = ".lambdaform-synth.json"
"""Beside the output: the key of the inputs it was synthesized from, and the :class:`SynthResult`."""
_CODE_ROOTS = ("lambdaform",)
"""lambdaform's own code, constructs included (its templates and handler kit are added): part of every key."""


@dataclass
class SynthResult:
    out_dir: Path
    stacks: dict[str, list[str]] = field(default_factory=dict)
    """Environment -> stack names in apply order."""
    packages: dict[str, str] = field(default_factory=dict)
    """``<env>/<function>`` -> source_code_hash of zip functions."""
    artifacts: list[Path] = field(default_factory=list)

    reused: bool = False
    """True when the previous output was reused (nothing changed since it was synthesized)."""

    def stack_dir(self, stack: str) -> Path:
        return self.out_dir / "stacks" / stack

    def to_json(self) -> dict:
        return {"stacks": self.stacks, "packages": self.packages,
                "artifacts": [p.relative_to(self.out_dir).as_posix() for p in self.artifacts]}

    @classmethod
    def from_json(cls, out_dir: Path, data: dict) -> SynthResult:
        return cls(out_dir=out_dir, stacks=data["stacks"], packages=data["packages"],
                   artifacts=[out_dir / p for p in data["artifacts"]], reused=True)


def _tree_digest(digest: Any, files: list[tuple[str, Path]]) -> None:
    for rel, path in files:
        stat_ = path.stat()
        digest.update(f"{rel}\0{stat_.st_mode & 0o111 != 0}\0{stat_.st_size}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")


def _code_files() -> list[tuple[str, Path]]:
    base = Path(__file__).resolve().parent.parent
    roots = [(name, base / name) for name in _CODE_ROOTS]
    roots += [("templates", resources.templates()), ("kit", resources.kit())]
    files: list[tuple[str, Path]] = []
    for name, root in roots:
        if root.is_dir():
            files += [(f"{name}/{p.relative_to(root).as_posix()}", p) for p in sorted(root.rglob("*"))
                      if p.is_file() and not {"__pycache__", "_data"} & set(p.parts) and p.suffix != ".pyc"]
    return files


def input_key(loaded: LoadedService, out_dir: Path, environments: list[str]) -> str:
    """The content hash of everything a synth of ``environments`` into ``out_dir`` reads."""
    digest = hashlib.sha256()
    for dist in ("cdktf", "cdktf-cdktf-provider-aws", "constructs", "lambdaform"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{dist}={version}\n".encode())
    digest.update(f"out={out_dir}\nenvironments={','.join(environments)}\n".encode())
    digest.update(loaded.path.read_bytes())
    _tree_digest(digest, _code_files())
    sources: dict[tuple[Path, tuple[str, ...]], None] = {}
    for env in environments:
        for spec in loaded.package_specs(env).values():
            sources[(spec.source, spec.exclude)] = None
        for fn in loaded.environments[env].image_functions.values():
            sources[(loaded.resolve(fn.source), tuple(fn.exclude))] = None
            if fn.dockerfile:
                sources[(loaded.resolve(fn.dockerfile), ())] = None
    for (source, exclude) in sources:
        digest.update(f"source={source}\n".encode())
        if source.is_file():
            _tree_digest(digest, [(source.name, source)])
        else:
            _tree_digest(digest, collect(source, exclude))
    return digest.hexdigest()


def _reusable(final_out: Path, key: str) -> SynthResult | None:
    try:
        data = json.loads((final_out / KEY_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != key:
        return None
    result = SynthResult.from_json(final_out, data["result"])
    stacks = [s for env_stacks in result.stacks.values() for s in env_stacks]
    if not all((result.stack_dir(s) / "cdk.tf.json").is_file() for s in stacks):
        return None
    return result


def _noop(_: str) -> None:
    pass


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success swap it into place, otherwise remove it.

    SIGINT/SIGTERM during the block raise ``KeyboardInterrupt`` so cleanup always runs."""
    final = final.resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not None and _in_main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield tmp
        with deferred_interrupts():  # never stop between the two renames: the old output is in backup then
            backup = None
            if final.exists():
                backup = final.parent / f".{final.name}.old-{os.getpid()}"
                os.replace(final, backup)
            os.replace(tmp, final)
            if backup is not None:
                shutil.rmtree(backup, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if previous is not None and _in_main_thread():
            signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class Interrupts:
    """Signals held by :func:`deferred_interrupts`; ``check()`` acts on them at a safe point."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def check(self) -> None:
        if self.received:
            raise KeyboardInterrupt


@contextmanager
def deferred_interrupts() -> Iterator[Interrupts]:
    """Hold SIGINT/SIGTERM while jsii works, and raise ``KeyboardInterrupt`` at ``check()`` or at the end.

    Every cdktf call is a request to jsii's node process, and some of them write into the temporary
    folder (``App()`` creates ``stacks/``, ``app.synth()`` writes the stacks). A signal that reaches only
    this process would raise in the middle of such a call: the cleanup would then race node, which is still
    writing (leaving a folder behind), and the jsii channel would be left out of step. Held signals are
    acted on between calls, so cleanup runs once node is done; when node itself was interrupted (Ctrl-C on
    a terminal reaches the whole process group) the failed call still ends as an interrupt."""
    interrupts = Interrupts()
    if not _in_main_thread():
        yield interrupts
        return
    previous = {sig: handler for sig in (signal.SIGINT, signal.SIGTERM)
                if (handler := signal.getsignal(sig)) is not None}
    try:
        for sig in previous:
            signal.signal(sig, lambda signum, _frame: interrupts.received.append(signum))
        yield interrupts
    except Exception:
        if interrupts.received:
            raise KeyboardInterrupt from None
        raise
    finally:
        _restore_handlers(previous)
    interrupts.check()


def _restore_handlers(previous: dict) -> None:
    """Put every handler back, even when a signal lands between two restores: ``signal.signal`` first runs
    pending handlers, so the one already restored may raise before the next is installed (leaving a handler
    that only records, so later SIGTERMs would be ignored). Retry that one, then raise."""
    interrupted: KeyboardInterrupt | None = None
    for sig, handler in previous.items():
        while True:
            try:
                signal.signal(sig, handler)
                break
            except KeyboardInterrupt as exc:
                interrupted = exc
    if interrupted is not None:
        raise interrupted


def _package_zips(loaded: LoadedService, services: dict[str, Service], progress: Progress) -> dict[tuple[str, str], Package]:
    """Build each distinct :class:`PackageSpec` once (source, excludes, platforms, layer or not);
    environments that share it share the bytes. Then Lambda's size limits, per function with its layers."""
    cache: dict[PackageSpec, Package] = {}
    packages: dict[tuple[str, str], Package] = {}
    for env in services:
        for name, spec in loaded.package_specs(env).items():
            if spec not in cache:
                progress(f"packaging {name} from {os.path.relpath(spec.source, loaded.root)}")
                cache[spec] = spec.build()
            packages[(env, name)] = cache[spec]
    for env, service in services.items():
        for key, fn in service.functions.items():
            if fn.package == "zip":
                check_sizes(packages[(env, key)], [packages[(env, layer)] for layer in function_layers(service, key)],
                            name=f"{loaded.path}: functions.{key}")
    return packages


def _render_docker(loaded: LoadedService, service: Service, out: Path, final_out: Path) -> list[Path]:
    written = []
    for key, fn in service.image_functions.items():
        if fn.dockerfile is not None:
            continue
        source = loaded.resolve(fn.source)
        target = out / "docker" / key
        if target.exists():
            continue
        target.mkdir(parents=True)
        entries = sorted({rel.split("/", 1)[0] for rel, _ in collect(source, fn.exclude)} - {"requirements.txt"})
        dockerfile = final_out / "docker" / key / "Dockerfile.lambda"
        kit = kit_entries(source, fn.exclude)
        for rel, path in kit:  # docker cannot COPY from outside the context: the kit is a named context
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(path.read_bytes())
            written.append(target / rel)
        context = {
            "project": service.project,
            "function_key": key,
            "python_version": fn.python_version,
            "platform": "linux/arm64" if fn.architecture == "arm64" else "linux/amd64",
            "handler": fn.handler,
            "copy_entries": entries,
            "dockerfile_path": os.path.relpath(dockerfile, loaded.root),
            "context_path": os.path.relpath(source, loaded.root),
            "kit_context_path": os.path.relpath(dockerfile.parent / KIT_PACKAGE, loaded.root) if kit else None,
            "image_name": f"{service.project}-{key}",
        }
        (target / "Dockerfile.lambda").write_text(render("Dockerfile.lambda.j2", **context))
        # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile, whatever the context folder.
        (target / "Dockerfile.lambda.dockerignore").write_text(
            render("dockerignore.j2", function_key=key, patterns=[*DEFAULT_EXCLUDES, *fn.exclude])
        )
        written += [target / "Dockerfile.lambda", target / "Dockerfile.lambda.dockerignore"]
    return written


def synthesize(
    loaded: LoadedService,
    out_dir: Path | str = "cdktf.out",
    *,
    environments: list[str] | None = None,
    progress: Progress = _noop,
    force: bool = False,
) -> SynthResult:
    """Synthesize the chosen environments (all by default) into ``out_dir``; reuse the previous output
    when none of its inputs changed (unless ``force``)."""
    final_out = Path(out_dir).resolve()
    services = loaded.select(environments)
    try:
        synth_key = input_key(loaded, final_out, list(services))
    except PackagingError:
        synth_key = ""  # synthesizing reports the folder's problem
    if synth_key and not force:
        previous = _reusable(final_out, synth_key)
        if previous is not None:
            progress("unchanged since the last synth: reusing it")
            return previous

    from cdktf import App  # imported late: jsii starts a node process

    from lambdaform.stacks import ASSETS_DIR, ZipPackage, build_app

    packages = _package_zips(loaded, services, progress)
    result = SynthResult(out_dir=final_out)
    with atomic_dir(final_out) as tmp, deferred_interrupts() as interrupts:
        progress("building stacks")
        app = App(outdir=str(tmp), stack_traces=False)
        for env, service in services.items():
            interrupts.check()
            refs = {
                key: ZipPackage(filename=f"{ASSETS_DIR}/{key}.zip", source_code_hash=pkg.source_code_hash,
                                via_s3=needs_s3_upload(pkg))
                for (e, key), pkg in packages.items() if e == env
            }
            ci = loaded.ci_stack(env)
            stacks = build_app(app, service, env, loaded.root, final_out, refs,
                               ci_stack=ci.name if ci is not None and ci.owner == env else None)
            result.stacks[env] = [s.node.id for s in stacks]
        interrupts.check()
        progress("synthesizing Terraform JSON")
        app.synth()
        progress("writing packages and artifacts")
        for (env, key), pkg in packages.items():
            stack = result.stacks[env][-1]
            asset = tmp / "stacks" / stack / ASSETS_DIR / f"{key}.zip"
            asset.parent.mkdir(parents=True, exist_ok=True)
            asset.write_bytes(pkg.data)
            result.packages[f"{env}/{key}"] = pkg.source_code_hash
        for service in services.values():
            result.artifacts += _render_docker(loaded, service, tmp, final_out)
        result.artifacts = [final_out / p.relative_to(tmp) for p in result.artifacts]
        if synth_key:
            (tmp / KEY_FILE).write_text(json.dumps({"key": synth_key, "result": result.to_json()}, indent=1) + "\n")
    return result


def run(loaded: LoadedService, out: Path, envs: list[str] | None, output: Output, *,
        force: bool = False) -> SynthResult:
    """:func:`synthesize` with the CLI's progress display; a folder that cannot be packaged is a
    :class:`~lambdaform.errors.BuildError` (invalid input, exit 2)."""
    loaded.select(envs)  # an unknown environment is reported before any progress is shown
    with output.progress("synth") as step:
        try:
            return synthesize(loaded, out, environments=envs or None, progress=step, force=force)
        except PackagingError as exc:
            raise BuildError(str(exc)) from None
