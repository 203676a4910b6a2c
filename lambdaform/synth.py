"""Synthesize a service: stacks, packaged handlers and rendered artifacts, written atomically.

Output layout (``OUT`` defaults to ``cdktf.out``)::

    OUT/manifest.json                      cdktf's manifest (also read by ``npx cdktf``)
    OUT/stacks/<stack>/cdk.tf.json         Terraform JSON of each stack
    OUT/stacks/<stack>/assets/<fn>.zip     canonical zip of each zip function
    OUT/docker/<fn>/Dockerfile.lambda      rendered Dockerfile (+ .dockerignore) of each image function

Everything is written to a sibling temporary folder first and moved into place only when complete; an
error or Ctrl-C leaves the previous output untouched and no partial folder behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lambdaform.loader import LoadedService
from lambdaform.packaging import DEFAULT_EXCLUDES, Package, build_zip, collect
from lambdaform.render import render
from lambdaform.sections import PackageSpec, present, section_modules
from lambdaform.service import Service

Progress = Callable[[str], None]


@dataclass
class SynthResult:
    out_dir: Path
    stacks: dict[str, list[str]] = field(default_factory=dict)
    """Environment -> stack names in apply order."""
    packages: dict[str, str] = field(default_factory=dict)
    """``<env>/<function>`` -> source_code_hash of zip functions."""
    artifacts: list[Path] = field(default_factory=list)

    def stack_dir(self, stack: str) -> Path:
        return self.out_dir / "stacks" / stack


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


def package_specs(loaded: LoadedService, service: Service, env: str) -> dict[str, PackageSpec]:
    """Every zip one environment needs: its zip functions' folders plus the sections' own packages."""
    specs = {
        key: PackageSpec(loaded.resolve(fn.source), tuple(fn.exclude))
        for key, fn in service.functions.items() if fn.package == "zip"
    }
    for module in section_modules():
        if present(module, service) and hasattr(module, "packages"):
            specs.update(module.packages(loaded, service, env))
    return specs


def _package_zips(loaded: LoadedService, services: dict[str, Service], progress: Progress) -> dict[tuple[str, str], Package]:
    """Build each distinct (source, excludes) zip once; environments that share it share the bytes."""
    cache: dict[PackageSpec, Package] = {}
    packages: dict[tuple[str, str], Package] = {}
    for env, service in services.items():
        for name, spec in package_specs(loaded, service, env).items():
            if spec not in cache:
                progress(f"packaging {name} from {os.path.relpath(spec.source, loaded.root)}")
                cache[spec] = build_zip(spec.source, spec.exclude)
            packages[(env, name)] = cache[spec]
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
        context = {
            "project": service.project,
            "function_key": key,
            "python_version": fn.python_version,
            "platform": "linux/arm64" if fn.architecture == "arm64" else "linux/amd64",
            "handler": fn.handler,
            "copy_entries": entries,
            "dockerfile_path": os.path.relpath(dockerfile, loaded.root),
            "context_path": os.path.relpath(source, loaded.root),
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
) -> SynthResult:
    """Synthesize the chosen environments (all by default) into ``out_dir``."""
    from cdktf import App  # imported late: jsii starts a node process

    from lambdaform.stacks import ASSETS_DIR, ZipPackage, build_app

    final_out = Path(out_dir).resolve()
    chosen = environments or list(loaded.environments)
    unknown = [e for e in chosen if e not in loaded.environments]
    if unknown:
        raise KeyError(f"unknown environment(s): {', '.join(unknown)} (defined: {', '.join(loaded.environments)})")
    services = {env: loaded.environments[env] for env in chosen}
    packages = _package_zips(loaded, services, progress)
    result = SynthResult(out_dir=final_out)
    with atomic_dir(final_out) as tmp, deferred_interrupts() as interrupts:
        progress("building stacks")
        app = App(outdir=str(tmp), stack_traces=False)
        for env, service in services.items():
            interrupts.check()
            refs = {
                key: ZipPackage(filename=f"{ASSETS_DIR}/{key}.zip", source_code_hash=pkg.source_code_hash)
                for (e, key), pkg in packages.items() if e == env
            }
            stacks = build_app(app, service, env, loaded.root, final_out, refs)
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
    return result
