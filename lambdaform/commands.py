"""What each CLI command does, as plain functions (``main.py`` only parses and prints)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from lambdaform.console import Output
from lambdaform.errors import BuildError, InputError, ToolError
from lambdaform.loader import LoadedService, load_service
from lambdaform.packaging import PackagingError
from lambdaform.synth import SynthResult, synthesize

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples"


def synth_loaded(loaded: LoadedService, out: Path, envs: list[str] | None, output: Output) -> SynthResult:
    unknown = [e for e in envs or [] if e not in loaded.environments]
    if unknown:
        raise InputError(
            f"{loaded.path}: environment '{unknown[0]}' is not defined (defined: {', '.join(loaded.environments)})"
        )
    with output.progress("synth") as step:
        try:
            return synthesize(loaded, out, environments=envs or None, progress=step)
        except PackagingError as exc:
            raise BuildError(str(exc)) from None


def synth_service(service_file: Path, out: Path, envs: list[str] | None, output: Output) -> SynthResult:
    """Validate, then synthesize into ``out``."""
    return synth_loaded(load_service(service_file), out, envs, output)


def list_resources(service_file: Path, envs: list[str] | None, output: Output) -> dict[str, list[str]]:
    """Stack name -> resource and data-source addresses, from a throw-away synth."""
    loaded = load_service(service_file)
    with tempfile.TemporaryDirectory(prefix="lambdaform-list-") as tmp:
        result = synth_loaded(loaded, Path(tmp) / "out", envs, output)
        listing: dict[str, list[str]] = {}
        for stacks in result.stacks.values():
            for stack in stacks:
                document = json.loads((result.stack_dir(stack) / "cdk.tf.json").read_text())
                addresses = [
                    f"{prefix}{rtype}.{name}"
                    for section, prefix in (("resource", ""), ("data", "data."))
                    for rtype, items in sorted(document.get(section, {}).items())
                    for name in sorted(items)
                ]
                listing[stack] = addresses
        return listing


def blueprints() -> dict[str, Path]:
    return {p.stem: p for p in sorted(EXAMPLES.glob("*.yaml"))}


def _referenced_paths(loaded: LoadedService) -> list[str]:
    """Every folder or file the service file points at (function sources, Dockerfiles, section packages),
    as written in the file (relative to it)."""
    from lambdaform.synth import package_specs

    found: dict[str, None] = {}
    for env, service in loaded.environments.items():
        for fn in service.functions.values():
            for relative in filter(None, (fn.source, fn.dockerfile)):
                found[relative] = None
        for spec in package_specs(loaded, service, env).values():
            found[os.path.relpath(spec.source, loaded.root)] = None
    return list(found)


def scaffold(directory: Path, blueprint: str, *, force: bool = False) -> list[Path]:
    """Copy a blueprint's service file and handler folders into ``directory``; paths are rewritten so the
    new folder stands alone (``../handlers/x`` becomes ``handlers/x``)."""
    available = blueprints()
    if blueprint not in available:
        raise InputError(f"unknown blueprint '{blueprint}' (available: {', '.join(available)})")
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()) and not force:
        raise InputError(f"{directory} is not empty (use --force to write into it)")
    source_file = available[blueprint]
    loaded = load_service(source_file)
    text = source_file.read_text()
    staging = Path(tempfile.mkdtemp(prefix=".init-", dir=directory.parent if directory.parent.exists() else None))
    written: list[Path] = []
    try:
        for relative in _referenced_paths(loaded):
            origin = loaded.resolve(relative)
            local = Path(*[p for p in Path(relative).parts if p != ".."])
            target = staging / local
            if target.exists():
                continue
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
            if relative != local.as_posix():
                text = text.replace(relative, local.as_posix())
        (staging / "service.yaml").write_text(text)
        load_service(staging / "service.yaml")  # the scaffold must validate where it lands
        directory.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.rglob("*")):
            target = directory / item.relative_to(staging)
            if item.is_dir():
                target.mkdir(exist_ok=True)
            else:
                shutil.copy2(item, target)
                written.append(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def export_hcl(service_file: Path, env: str, out: Path, output: Output) -> list[Path]:
    """Synthesize ``env`` and write each of its stacks as plain HCL under ``out/<stack>/`` (atomically).

    The provider schema decides blocks versus maps; it is read once with ``terraform providers schema``
    and cached in ``.lambdaform/schema-cache`` beside the service file."""
    from lambdaform.hcl_export import export_stack, load_provider_schema
    from lambdaform.synth import atomic_dir
    from lambdaform.tfcli import TerraformError

    loaded = load_service(service_file)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="lambdaform-hcl-") as tmp:
        result = synth_loaded(loaded, Path(tmp) / "synth", [env], output)
        with output.progress(f"hcl {env}") as step, atomic_dir(out) as target:
            for stack in result.stacks[env]:
                stack_dir = result.stack_dir(stack)
                step(f"{stack}: provider schema")
                try:
                    schema = load_provider_schema(stack_dir, loaded.root / ".lambdaform" / "schema-cache")
                except TerraformError as exc:
                    raise ToolError(f"terraform could not load the provider schema:\n{exc.output[-2000:]}") from None
                step(f"{stack}: writing HCL")
                document = json.loads((stack_dir / "cdk.tf.json").read_text())
                files = export_stack(document, schema, target / stack, asset_dir=stack_dir,
                                     title=f"{loaded.base.project} - {env} ({stack})")
                written += [out.resolve() / p.relative_to(target) for p in files]
    return written
