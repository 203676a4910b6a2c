"""What each CLI command does, as plain functions: the only place that sequences the pipeline.

Every command is one call from ``main.py`` into this module, and each is the same flow with a different
consumer at the end::

    load_service (loader) -> synth.run (stacks, packages, artifacts) -> one consumer:
        Deployment (terraform plan/apply/destroy) | hcl_export | workflows | appspec

Nothing below this module imports it; ``main.py`` only parses arguments and prints what comes back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lambdaform import synth
from lambdaform.console import Output
from lambdaform.deploy import DeployResult, Deployment, DestroyResult, RunOptions
from lambdaform.errors import InputError, ToolError
from lambdaform.kinds import reference_pattern
from lambdaform.loader import LoadedService, load_service
from lambdaform.service import STATE_BUCKET_PATTERN
from lambdaform.synth import SynthResult

if TYPE_CHECKING:
    from lambdaform.local_invoke import InvokeResult


Confirm = Callable[[str, str], None]
"""``confirm(action, env)`` returns to go on, or raises to stop (the CLI asks on a terminal)."""


# -- validate / synth / list / schema ---------------------------------------------------------------------


def validate(service_file: Path) -> LoadedService:
    """Load and check a service file (every problem at once, as a ServiceFileError)."""
    return load_service(service_file)


def synth_loaded(loaded: LoadedService, out: Path, envs: list[str] | None, output: Output) -> SynthResult:
    return synth.run(loaded, out, envs, output)


def synth_service(service_file: Path, out: Path, envs: list[str] | None, output: Output, *,
                  force: bool = False) -> SynthResult:
    """Validate, then synthesize into ``out`` (reusing it when nothing changed, unless ``force``).

    With ``$LAMBDAFORM_ENDPOINT`` set, every stack also gets the emulator override file, so ``npx cdktf
    deploy <stack>`` (whose app is this synth) deploys to the emulator too."""
    from lambdaform.deploy import resolve_endpoint, write_endpoint_files

    loaded = load_service(service_file)
    endpoint = resolve_endpoint(None)
    result = synth.run(loaded, out, envs, output, force=force)
    for env, stacks in result.stacks.items():
        write_endpoint_files(result, stacks, endpoint, s3_backend=loaded.environments[env].state.backend == "s3")
    return result


def _work_dir(loaded: LoadedService, purpose: str) -> Path:
    """A synth folder of lambdaform's own beside the service file (``.lambdaform/synth/<purpose>``), so
    commands that only read a synth (list, hcl, invoke) reuse it while nothing changes."""
    return loaded.root / ".lambdaform" / "synth" / purpose


@dataclass(frozen=True)
class Listing:
    resources: dict[str, list[str]]
    """Stack name -> resource and data-source addresses."""
    triggers: dict[str, list[str]]
    """Service stack name -> ``<function> <- <trigger>`` lines, e.g. ``worker <- sqs: jobs``."""


def list_resources(service_file: Path, envs: list[str] | None, output: Output) -> Listing:
    """The stacks, the resources each one declares and what invokes each function."""
    from lambdaform import names
    from lambdaform.triggers import by_key, uses

    loaded = load_service(service_file)
    triggers = {
        names.service_stack(service.project, env): [
            f"{use.function} <- {by_key(kind).describe(use)}"
            for kind, found in uses(service).items() for use in found
        ]
        for env, service in loaded.select(envs).items()
    }
    result = synth.run(loaded, _work_dir(loaded, "list-" + "-".join(envs or ["all"])), envs, output)
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
    return Listing(resources=listing, triggers=triggers)


def schema() -> dict[str, Any]:
    """JSON Schema of the service file."""
    from lambdaform.service import Service

    return Service.model_json_schema()


# -- init -------------------------------------------------------------------------------------------------


DEFAULT_BLUEPRINT = "hello"
SCAFFOLD_FILES = {
    "README.md": "scaffold/README.md.j2",
    ".gitignore": "scaffold/gitignore.j2",
    "cdktf.json": "scaffold/cdktf.json.j2",
    "package.json": "scaffold/package.json.j2",
    "requirements-lambdaform.txt": "scaffold/requirements-lambdaform.txt.j2",
    ".github/dependabot.yml": "scaffold/dependabot.yml.j2",
}
"""What ``lambdaform init`` writes beside the service file and its handlers (path -> template)."""
CDKTF_CLI_VERSION = "0.21.0"
"""The cdktf CLI a scaffold pins: the one matching the pinned cdktf Python binding."""


def blueprints() -> dict[str, Path]:
    from lambdaform import resources

    return {p.stem: p for p in sorted(resources.examples().glob("*.yaml"))}


def blueprint_summaries() -> dict[str, str]:
    """Blueprint -> its one-line description (the first comment line of its service file)."""
    summaries = {}
    for name, path in blueprints().items():
        header = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                break
            header.append(line.lstrip("# ").strip())
        text = " ".join(header)
        summaries[name] = re.split(r"(?<=\.)\s", text, maxsplit=1)[0].rstrip(".") or "-"
    return summaries


def _referenced_paths(loaded: LoadedService) -> list[str]:
    """Every folder or file the service file points at (function sources, Dockerfiles, kinds' packages),
    as written in the file (relative to it)."""
    found: dict[str, None] = {}
    for env, service in loaded.environments.items():
        for fn in service.functions.values():
            for relative in filter(None, (fn.source, fn.dockerfile)):
                found[relative] = None
        for spec in loaded.package_specs(env).values():
            found[os.path.relpath(spec.source, loaded.root)] = None
    return list(found)


def _with_state(text: str, project: str, bucket: str) -> str:
    """The blueprint's text with an S3 ``state:`` section before its ``environments:`` (or at the end)."""
    from lambdaform.workflows import state_lines

    block = "# Terraform state in S3, so CI jobs (which start from an empty workspace) share it.\n" + \
        state_lines(project, bucket)
    lines = text.splitlines(keepends=True)
    if any(line.startswith("state:") for line in lines):
        raise InputError(f"--state-bucket: blueprint of '{project}' has its own state: section; edit that instead")
    at = next((i for i, line in enumerate(lines) if line.startswith("environments:")), len(lines))
    if at == len(lines) and lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[:at] + [block] + lines[at:])


def scaffold(directory: Path, blueprint: str = DEFAULT_BLUEPRINT, *, force: bool = False,
             state_bucket: str | None = None) -> list[Path]:
    """A new repository in ``directory`` from a blueprint: the service file and its handler folders (paths
    rewritten so the folder stands alone: ``../handlers/x`` becomes ``handlers/x``), a README with the
    commands a team runs, ``.gitignore``, ``cdktf.json`` + ``package.json`` (``npx cdktf``), the pinned
    lambdaform requirement and dependabot. With ``state_bucket`` the service keeps its state in that S3
    bucket and the GitHub workflows are written too (CI needs remote state). Written to a staging folder
    first and validated there, so a failure leaves nothing behind."""
    from lambdaform import __version__
    from lambdaform.render import render
    from lambdaform.workflows import context_from_service, user_test_command
    from lambdaform.workflows import write_workflows as write

    available = blueprints()
    if blueprint not in available:
        raise InputError(f"unknown blueprint '{blueprint}' (available: {', '.join(available)})")
    if state_bucket is not None and not re.fullmatch(STATE_BUCKET_PATTERN, state_bucket):
        raise InputError(f"--state-bucket: {state_bucket!r} is not an S3 bucket name "
                         "(3-63 lowercase letters, digits, dots and hyphens)")
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()) and not force:
        raise InputError(f"{directory} is not empty (use --force to write into it)")
    source_file = available[blueprint]
    loaded = load_service(source_file)
    text = source_file.read_text()
    staging = Path(tempfile.mkdtemp(prefix=".init-", dir=directory.parent if directory.parent.exists() else None))
    written: list[Path] = []
    try:
        handler_dirs = []
        for relative in _referenced_paths(loaded):
            origin = loaded.resolve(relative)
            local = Path(*[p for p in Path(relative).parts if p != ".."])
            target = staging / local
            handler_dirs.append(local.as_posix())
            if target.exists():
                continue
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
            if relative != local.as_posix():
                text = text.replace(relative, local.as_posix())
        if state_bucket is not None:
            text = _with_state(text, loaded.base.project, state_bucket)
        (staging / "service.yaml").write_text(text)
        standalone = load_service(staging / "service.yaml")  # the scaffold must validate where it lands
        base = standalone.base
        context = {
            "project": base.project, "blueprint": blueprint, "version": __version__,
            "lambdaform_url": "https://pypi.org/project/lambdaform/",
            "handler_rows": sorted(dict.fromkeys(handler_dirs)),
            "default_branch": base.ci.branches[0] if base.ci and base.ci.branches else "main",
            "has_images": bool(base.image_functions),
            "project_id": f"lambdaform-{base.project}",
            "cdktf_cli_version": CDKTF_CLI_VERSION,
            "requirement": f"lambdaform=={__version__}",
            "test_command": user_test_command(),
            "has_workflows": state_bucket is not None,
        }
        for path, template in SCAFFOLD_FILES.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_text(render(template, **context))
        if state_bucket is not None:
            write(context_from_service(standalone, staging), staging)
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


# -- plan / deploy / destroy ------------------------------------------------------------------------------


def prepare(service_file: Path, options: RunOptions, output: Output) -> Deployment:
    """Load the file and check everything a terraform run needs (environment, credentials, terraform)."""
    return Deployment(load_service(service_file), options, output)


def plan(service_file: Path, options: RunOptions, output: Output, *, detailed_exitcode: bool) -> tuple[int, str]:
    """Synthesize and plan every stack: (exit code, plan text)."""
    deployment = prepare(service_file, options, output)
    deployment.synthesize()
    return deployment.plan(detailed_exitcode)


def deploy(service_file: Path, options: RunOptions, output: Output, confirm: Confirm) -> DeployResult:
    """Synthesize and apply every stack in order; the deployed functions and outputs."""
    deployment = prepare(service_file, options, output)
    confirm("deploy", options.env)
    deployment.synthesize()
    return deployment.apply()


def rollback(service_file: Path, options: RunOptions, function: str, output: Output, confirm: Confirm) -> tuple[str, str]:
    """Move a function's alias back to its previous published version: (from version, to version)."""
    deployment = prepare(service_file, options, output)
    confirm(f"roll back '{function}' in", options.env)
    deployment.synthesize()
    return deployment.rollback(function)


def destroy(service_file: Path, options: RunOptions, output: Output, confirm: Confirm, *,
            delete_images: bool = False) -> DestroyResult:
    """Destroy every stack in reverse order (a CI stack other environments use is kept).

    ECR repositories that still hold images cannot be deleted: unless ``registry.force_delete`` is set (then
    terraform deletes the images with them), refuse before anything is touched, or with ``delete_images``
    delete the images before the registry stack is destroyed."""
    deployment = prepare(service_file, options, output)
    held = deployment.held_images()
    count = sum(len(images) for images in held.values())
    force_delete = deployment.service.registry.force_delete
    if held and not (force_delete or delete_images):
        listed = ", ".join(f"{repository} ({_images(len(images))})" for repository, images in held.items())
        raise InputError(
            f"ECR repositor{'y' if len(held) == 1 else 'ies'} {listed} still hold{'s' if len(held) == 1 else ''} "
            f"images, and terraform cannot delete a repository that is not empty; nothing was destroyed. Pass "
            f"--delete-images to delete them first, or set registry.force_delete: true in {service_file} to let "
            "terraform delete them with the repository")
    if held and delete_images:
        confirm(f"delete {_images(count)} from {', '.join(held)} and destroy", options.env)
    else:
        confirm("destroy", options.env)
    deployment.synthesize()
    result = deployment.destroy(delete_images=held if delete_images else None)
    if held and not delete_images:
        result.notes.append(f"terraform deleted {_images(count)} with the ECR repositories (registry.force_delete)")
    return result


def _images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"


# -- hcl / workflows / appspec / emulator -----------------------------------------------------------------


def export_hcl(service_file: Path, env: str, out: Path, output: Output) -> list[Path]:
    """Synthesize ``env`` and write each of its stacks as plain HCL under ``out/<stack>/`` (atomically).

    The provider schema decides blocks versus maps; it is read once with ``terraform providers schema``
    and cached in ``.lambdaform/schema-cache`` beside the service file."""
    from lambdaform.hcl_export import export_stack, load_provider_schema
    from lambdaform.synth import atomic_dir
    from lambdaform.tfcli import TerraformError

    loaded = load_service(service_file)
    written: list[Path] = []
    result = synth.run(loaded, _work_dir(loaded, f"hcl-{env}"), [env], output)
    with output.progress(f"hcl {env}") as step, atomic_dir(out) as target:
        for stack in result.stacks[env]:
            stack_dir = result.stack_dir(stack)
            step(f"{stack}: provider schema")
            try:
                schema_doc = load_provider_schema(stack_dir, loaded.root / ".lambdaform" / "schema-cache")
            except TerraformError as exc:
                raise ToolError(f"terraform could not load the provider schema:\n{exc.output[-2000:]}") from None
            step(f"{stack}: writing HCL")
            document = json.loads((stack_dir / "cdk.tf.json").read_text())
            files = export_stack(document, schema_doc, target / stack, asset_dir=stack_dir,
                                 title=f"{loaded.base.project} - {env} ({stack})")
            written += [out.resolve() / p.relative_to(target) for p in files]
    return written


def write_workflows(service_file: Path, repo_root: Path) -> list[Path]:
    """Render the GitHub workflows of a service file into ``repo_root``."""
    from lambdaform.workflows import WorkflowContextError, context_from_service
    from lambdaform.workflows import write_workflows as write

    loaded = load_service(service_file)
    root = repo_root.resolve()
    try:
        return write(context_from_service(loaded, root), root)
    except WorkflowContextError as exc:
        raise InputError(str(exc)) from None


class _Deployed(Protocol):
    """What :func:`write_appspec` uses of a :class:`~lambdaform.deploy.Deployment`."""

    loaded: LoadedService
    service: Any
    options: Any
    stacks: list[str]

    def synthesize(self) -> None: ...

    def init(self, stack: str) -> None: ...

    def outputs(self, stack: str) -> dict: ...


def write_appspec(deployment: _Deployed, out_path: Path | str) -> Path:
    """Read the deployed hook ARNs of ``deployment``'s environment and write the AppSpec to ``out_path``
    (container and platform settings from its ``deploy_hooks`` section). Returns the file's path.

    :class:`~lambdaform.errors.InputError` when the service has no ``deploy_hooks`` section or the
    environment has not been deployed."""
    from lambdaform.appspec import appspec_from_outputs, render_appspec

    section = deployment.service.deploy_hooks
    env = deployment.options.env
    if section is None:
        raise InputError(f"{deployment.loaded.path}: no deploy_hooks section, so there is no AppSpec to write")
    deployment.synthesize()
    stack = deployment.stacks[-1]
    deployment.init(stack)
    try:
        hook_arns = appspec_from_outputs(deployment.outputs(stack))
    except ValueError as exc:
        raise InputError(f"environment '{env}' has no deployed deploy hooks ({exc}); run deploy first") from None
    text = render_appspec(hook_arns, section.container_name, section.container_port,
                          platform_version=section.platform_version)
    target = Path(out_path).expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 is for secrets; an AppSpec is not one
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def appspec(service_file: Path, options: RunOptions, out: Path, output: Output) -> Path:
    """Write the AppSpec naming an environment's deployed lifecycle-hook functions."""
    return write_appspec(prepare(service_file, options, output), out)


def emulator(port: int, output: Output) -> None:
    """Serve a local moto emulator until interrupted."""
    from lambdaform.emulator import serve

    serve(port, output)


# -- invoke ----------------------------------------------------------------------------------------------


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def read_event(event_path: Path | None) -> Any:
    """The event from a JSON file (``-``: standard input); ``{}`` without one."""
    if event_path is None:
        return {}
    try:
        text = sys.stdin.read() if str(event_path) == "-" else event_path.read_text()
    except OSError as exc:
        raise InputError(f"{event_path}: cannot read the event: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputError(f"{event_path}: the event is not valid JSON: {exc}") from None


def _local_environment(service: Any, env: str, key: str, overrides: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The function's variables as deployed, as far as they are known without AWS: ``${tables.x.name}``
    (and buckets, queues) become the physical names, secrets their parameter name or ARN; references to
    ARNs and URLs stay as written and are returned as warnings. ``NAME=VALUE`` overrides win."""
    fn = service.functions[key]
    warnings: list[str] = []
    variables: dict[str, str] = {}
    for name, value in fn.environment.items():
        def name_of(match: Any) -> str:
            _kind, ref_key, attribute = match.groups()
            if attribute == "name":
                return service.resource_name(env, ref_key)
            warnings.append(f"{name}: {match.group(0)} is only known once deployed; pass --set {name}=VALUE")
            return match.group(0)

        variables[name] = reference_pattern().sub(name_of, value)
    for name, secret_key in fn.secrets.items():
        ref = service.secrets[secret_key]
        variables[name] = ref.secrets_manager_arn or ref.ssm_parameter or ""
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"--set {item!r}: expected NAME=VALUE")
        variables[name] = value
        warnings = [w for w in warnings if not w.startswith(f"{name}:")]
    return variables, warnings


def invoke(
    service_file: Path,
    function: str,
    event_path: Path | None = None,
    env: str | None = None,
    out: Path | None = None,
    *,
    layers: Sequence[Path] = (),
    set_variables: Sequence[str] = (),
    host_credentials: bool = False,
    output: Output | None = None,
) -> InvokeResult:
    """Synthesize ``env`` (default: the file's first environment) into ``out`` (default: a temporary
    folder) and invoke ``function``'s packaged zip once with the event in ``event_path``.

    Raises :class:`InputError` for an unknown function, an image function, a bad event, or a function
    this machine cannot run faithfully (architecture, Python version)."""
    from lambdaform.kinds.layer import function_layers
    from lambdaform.kinds.layer import is_key as is_layer_key
    from lambdaform.local_invoke import check_runnable, invoke_zip

    output = output or Output(quiet=True)
    loaded: LoadedService = load_service(service_file)
    env = env or next(iter(loaded.environments))
    service = loaded.select([env])[env]
    fn = service.functions.get(function)
    if fn is None:
        raise InputError(f"{loaded.path}: no function '{function}' (functions: {', '.join(service.functions) or 'none'})")
    if fn.package != "zip":
        raise InputError(f"{loaded.path}: function '{function}' is an image function; invoke runs zip functions "
                         "(image functions need Docker: build the rendered Dockerfile.lambda and run the image)")
    check_runnable(fn.runtime, fn.handler, fn.architecture)  # before the synth: refuse early
    event = read_event(event_path)
    variables, warnings = _local_environment(service, env, function, set_variables)
    for warning in warnings:
        output.note(f"warning: {warning}")
    by_arn = [ref for ref in fn.layers if not is_layer_key(ref)]
    if by_arn and not layers:
        output.note(f"warning: '{function}' declares {len(by_arn)} layer(s) by ARN; pass --layer ZIP to include "
                    "their contents locally")
    credentials = None
    if host_credentials:
        credentials = {k: os.environ[k] for k in CREDENTIAL_VARIABLES if k in os.environ}

    result = synth.run(loaded, out or _work_dir(loaded, f"invoke-{env}"), [env], output)
    stack = result.stacks[env][-1]  # the service stack holds the packaged zips
    zip_path = result.stack_dir(stack) / "assets" / f"{function}.zip"
    if not zip_path.is_file():
        raise InputError(f"synth wrote no package for '{function}' (looked for {zip_path})")
    # the declared layers it lists, built by this synth, in its order; then the --layer zips
    layers = [*(result.stack_dir(stack) / "assets" / f"{name}.zip" for name in function_layers(service, function)),
              *layers]
    with output.progress(f"invoke {function}") as step:
        step(f"running {zip_path.name} ({fn.runtime}, {fn.architecture})")
        return invoke_zip(
            zip_path, runtime=fn.runtime, handler=fn.handler, architecture=fn.architecture, event=event,
            layers=tuple(layers), environment=variables, timeout_seconds=fn.timeout_seconds,
            memory_mb=fn.memory_mb, function_name=service.function_name(env, function), region=service.region,
            credentials=credentials,
        )
