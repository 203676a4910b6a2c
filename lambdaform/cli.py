"""lambdaform command line: service file -> validated model -> cdktf stacks -> Terraform.

    lambdaform validate [SERVICE_FILE]
    lambdaform synth    [SERVICE_FILE] [--out cdktf.out] [--env dev]
    lambdaform list     [SERVICE_FILE]
    lambdaform schema
    lambdaform init     DIR [--blueprint nl2sql-agent]
    lambdaform plan     [SERVICE_FILE] --env dev [--detailed-exitcode]
    lambdaform deploy   [SERVICE_FILE] --env dev [--yes] [--json]
    lambdaform destroy  [SERVICE_FILE] --env dev [--yes] [--delete-images]
    lambdaform invoke   FUNCTION [SERVICE_FILE] [--event event.json] [--env dev]

Exit codes: 0 success, 1 an external tool (terraform) failed, 2 invalid input. In this repository
``python main.py ...`` runs the same CLI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from lambdaform.console import Output

app = typer.Typer(
    name="lambdaform",
    help="Turn a short service file into reviewed, deployable Terraform for AWS Lambda.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from lambdaform import __version__

        typer.echo(f"lambdaform {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print lambdaform's version and exit.")] = False,
) -> None:
    """Turn a short service file into reviewed, deployable Terraform for AWS Lambda."""

EXIT_TOOL = 1
EXIT_INPUT = 2

ServiceFile = Annotated[
    Path, typer.Argument(help="The service file (YAML).", show_default=True, dir_okay=False)
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output; results and errors only.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show a traceback for unexpected errors.")]
Envs = Annotated[
    list[str] | None, typer.Option("--env", "-e", help="Environment(s) to include (default: all).")
]


@contextmanager
def handled(output: Output, debug: bool = False, input_exit: int = EXIT_INPUT) -> Iterator[None]:
    """Turn lambdaform's errors into one clear message and the documented exit code."""
    from lambdaform.errors import InputError, ServiceFileError, ToolError

    try:
        yield
    except ServiceFileError as exc:
        output.error(f"{exc.file} is invalid:\n" + "\n".join(f"  {p}" for p in exc.problems))
        raise typer.Exit(input_exit) from None
    except InputError as exc:
        output.error(str(exc))
        raise typer.Exit(input_exit) from None
    except ToolError as exc:
        output.error(str(exc))
        raise typer.Exit(EXIT_TOOL) from None
    except KeyboardInterrupt:
        output.error("interrupted; nothing was left half-written")
        _quiet_broken_pipes_at_exit()
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if debug:
            raise
        output.error(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        raise typer.Exit(EXIT_TOOL) from None


def _quiet_broken_pipes_at_exit() -> None:
    """Ctrl-C on a terminal reaches the whole process group, jsii's node process included; at exit jsii's
    own hook then writes to the dead process and Python prints the BrokenPipeError as a traceback. After an
    interrupt that error says nothing new: silence it, and only it."""
    default = sys.unraisablehook

    def hook(unraisable) -> None:
        if not isinstance(unraisable.exc_value, BrokenPipeError):
            default(unraisable)

    sys.unraisablehook = hook


@app.command()
def validate(service_file: ServiceFile = Path("service.yaml"), quiet: Quiet = False, debug: Debug = False) -> None:
    """Check a service file and report every problem with its field path."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        loaded = commands.validate(service_file)
        functions = ", ".join(f"{k} ({f.package})" for k, f in loaded.base.functions.items())
        typer.echo(
            f"{service_file}: valid - project {loaded.base.project}, "
            f"environments {', '.join(loaded.environments)}, functions {functions}"
        )


@app.command()
def synth(
    service_file: ServiceFile = Path("service.yaml"),
    out: Annotated[Path, typer.Option("--out", "-o", envvar="CDKTF_OUTDIR",
                                      help="Output folder (npx cdktf sets it through CDKTF_OUTDIR).")] = Path("cdktf.out"),
    env: Envs = None,
    force: Annotated[bool, typer.Option("--force", help="Synthesize even when no input changed.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Synthesize stacks, packages and artifacts into OUT (written atomically; reused when nothing changed)."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        result = commands.synth_service(service_file, out, env, output, force=force)
        count = sum(len(s) for s in result.stacks.values())
        typer.echo(f"unchanged since the last synth: reused {count} stack(s) in {result.out_dir}" if result.reused
                   else f"synthesized {count} stack(s) into {result.out_dir}")
        for environment, stacks in result.stacks.items():
            for stack in stacks:
                typer.echo(f"  {environment:8} {result.stack_dir(stack)}")


@app.command("list")
def list_(
    service_file: ServiceFile = Path("service.yaml"),
    env: Envs = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """List the stacks, the Terraform resources each one declares and what invokes each function."""
    from lambdaform.commands import list_resources

    output = Output(quiet=quiet)
    with handled(output, debug):
        listing = list_resources(service_file, env, output)
        if as_json:
            typer.echo(json.dumps(listing.resources, indent=2))
            return
        for stack, addresses in listing.resources.items():
            typer.echo(f"{stack} ({len(addresses)} resources)")
            for address in addresses:
                typer.echo(f"  {address}")
            for line in listing.triggers.get(stack, []):
                typer.echo(f"  trigger: {line}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the service file (for editor completion)."""
    from lambdaform.commands import schema as service_schema

    typer.echo(json.dumps(service_schema(), indent=2))


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="New repository folder.", file_okay=False)] = None,
    blueprint: Annotated[str, typer.Option("--blueprint", "-b", help="Blueprint to start from (see --list).")] = "hello",
    list_: Annotated[bool, typer.Option("--list", help="List the blueprints, one line each, and exit.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
    state_bucket: Annotated[str | None, typer.Option(
        "--state-bucket", help="S3 bucket (existing, yours) for Terraform state; also writes the GitHub workflows.")] = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Start a new repository from a blueprint: service.yaml, handler code, README, .gitignore, cdktf.json,
    package.json, the pinned lambdaform requirement, dependabot, and with --state-bucket the GitHub workflows."""
    from lambdaform import commands
    from lambdaform.errors import InputError

    output = Output(quiet=quiet)
    with handled(output, debug):
        if list_:
            for name, summary in commands.blueprint_summaries().items():
                typer.echo(f"{name:20} {summary}")
            return
        if directory is None:
            raise InputError("give the new repository's folder: lambdaform init DIR [--blueprint NAME]")
        written = commands.scaffold(directory, blueprint, force=force, state_bucket=state_bucket)
        typer.echo(f"created {directory} from blueprint {blueprint} ({len(written)} files)")
        typer.echo(f"next: cd {directory} && lambdaform synth && lambdaform plan --env dev")
        if state_bucket is None:
            typer.echo("no GitHub workflows yet: CI needs remote state. Add a state: section (backend: s3, "
                       "bucket: ...) to service.yaml and run `lambdaform workflows`, or init again with "
                       "--state-bucket NAME")


Env = Annotated[str, typer.Option("--env", "-e", help="Environment to act on.")]
Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint", envvar="LAMBDAFORM_ENDPOINT",
                 help="AWS emulator URL (moto, LocalStack) for every service and the S3 state backend."),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Stream terraform's own output to stderr.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a terminal).")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Synth output folder.")]
Var = Annotated[list[str] | None, typer.Option("--var", help="Stack variable NAME=VALUE, e.g. api_image_tag=3f2c1e0.")]
Stack = Annotated[list[str] | None, typer.Option(
    "--stack", help="Only this stack (full name, or registry / service); repeatable. Default: all, in order.")]


def _options(env: str, out: Path, endpoint: str | None, verbose: bool, var: list[str] | None,
             stack: list[str] | None = None):
    from lambdaform.deploy import RunOptions, parse_vars

    return RunOptions(env=env, out=out, endpoint=endpoint, verbose=verbose, variables=parse_vars(var),
                      stacks=tuple(stack or ()))


def _confirmer(yes: bool):
    """``confirm(action, env)``: go on with --yes; ask on a terminal; refuse without one."""
    from lambdaform.errors import InputError

    def confirm(action: str, env: str) -> None:
        if yes:
            return
        if not sys.stdin.isatty():
            raise InputError(f"refusing to {action} '{env}' without a terminal to confirm on; pass --yes")
        if not typer.confirm(f"{action} environment '{env}'?", default=False):
            raise typer.Exit(1)

    return confirm


@app.command()
def plan(
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Out = Path("cdktf.out"),
    endpoint: Endpoint = None,
    var: Var = None,
    stack: Stack = None,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 0 no changes, 2 changes, 1 error (invalid input too).")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Synthesize ENV and show what terraform would change, stack by stack."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug, input_exit=EXIT_TOOL if detailed_exitcode else EXIT_INPUT):
        code, text = commands.plan(service_file, _options(env, out, endpoint, verbose, var, stack), output,
                                   detailed_exitcode=detailed_exitcode)
        typer.echo(text)
    raise typer.Exit(code)


@app.command()
def deploy(
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Out = Path("cdktf.out"),
    endpoint: Endpoint = None,
    var: Var = None,
    stack: Stack = None,
    yes: Yes = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Synthesize ENV, apply its stacks in order and print the deployed functions."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        result = commands.deploy(service_file, _options(env, out, endpoint, verbose, var, stack), output,
                                 _confirmer(yes))
        if as_json:
            typer.echo(json.dumps(result.as_dict(), indent=2))
        else:
            output.deploy_result(result)
        for row in result.failed_rollouts:
            output.error(f"{row['function']}: deployment {row['deployment_id']} {row['status']} "
                         f"({row['reason'] or 'no reason given'}); the alias stays on version {row['from_version']}")
    if result.failed_rollouts:
        raise typer.Exit(EXIT_TOOL)


@app.command()
def rollback(
    function: Annotated[str, typer.Argument(help="Function key (one with an alias).")],
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Out = Path("cdktf.out"),
    endpoint: Endpoint = None,
    yes: Yes = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Move FUNCTION's alias back to its previous published version (the rollback of a release)."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        before, after = commands.rollback(service_file, _options(env, out, endpoint, verbose, None), function,
                                          output, _confirmer(yes))
        typer.echo(f"rolled back {function} in {env}: alias moved from version {before} to {after}")


@app.command()
def destroy(
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Out = Path("cdktf.out"),
    endpoint: Endpoint = None,
    var: Var = None,
    stack: Stack = None,
    delete_images: Annotated[bool, typer.Option(
        "--delete-images", help="Delete the images in ENV's ECR repositories first (a repository that holds "
        "images cannot be destroyed unless registry.force_delete is set).")] = False,
    yes: Yes = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Destroy ENV's stacks in reverse order. The account's CI stack (GitHub OIDC provider) is kept while
    other environments use it; --stack NAME destroys it."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        result = commands.destroy(service_file, _options(env, out, endpoint, verbose, var, stack), output,
                                  _confirmer(yes), delete_images=delete_images)
        deleted = f" (after deleting {result.images_deleted} image{'' if result.images_deleted == 1 else 's'})" \
            if result.images_deleted else ""
        typer.echo(f"destroyed {env}: {', '.join(result.destroyed) or 'nothing'}{deleted}")
        for note in result.notes:
            typer.echo(note)


@app.command()
def hcl(
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the HCL (one subfolder per stack).")] = Path("hcl"),
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Export ENV as plain, fmt-clean Terraform HCL an ops team can read and apply without cdktf."""
    from lambdaform.commands import export_hcl

    output = Output(quiet=quiet)
    with handled(output, debug):
        written = export_hcl(service_file, env, out, output)
        stacks = sorted({p.relative_to(out.resolve()).parts[0] for p in written})
        typer.echo(f"wrote {len(written)} files for {len(stacks)} stack(s) into {out}")
        for stack in stacks:
            typer.echo(f"  {out / stack}")


@app.command()
def appspec(
    service_file: ServiceFile = Path("service.yaml"),
    env: Env = "dev",
    out: Annotated[Path, typer.Option("--out", help="AppSpec file to write.")] = Path("appspec.yml"),
    synth_out: Out = Path("cdktf.out"),
    endpoint: Endpoint = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Write the CodeDeploy AppSpec (appspec.yml) naming ENV's deployed lifecycle-hook functions."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        path = commands.appspec(service_file, _options(env, synth_out, endpoint, verbose, None), out, output)
        typer.echo(f"wrote {path}")


@app.command()
def emulator(
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Run a local AWS emulator (moto) on 127.0.0.1 for `deploy --endpoint`, until Ctrl-C."""
    from lambdaform import commands

    output = Output()
    with handled(output):
        commands.emulator(port, output)


@app.command()
def workflows(
    service_file: ServiceFile = Path("service.yaml"),
    repo_root: Annotated[Path, typer.Option("--repo-root", help="Repository the workflows are written into.")] = Path("."),
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Render the GitHub Actions workflows (plan on PR, apply on main, image build/deploy)."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        written = commands.write_workflows(service_file, repo_root)
        for path in written:
            typer.echo(f"wrote {path}")


@app.command()
def invoke(
    function: Annotated[str, typer.Argument(help="Function key under `functions:`.")],
    service_file: ServiceFile = Path("service.yaml"),
    event: Annotated[Path | None, typer.Option("--event", help="Event JSON file ('-': stdin). Default: {}.")] = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Environment (default: the file's first).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Synth output folder (default: a temporary one).")] = None,
    layer: Annotated[list[Path] | None, typer.Option("--layer", help="Layer zip to extract into /opt; repeatable, in order.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Environment variable NAME=VALUE for this run; repeatable.")] = None,
    host_credentials: Annotated[bool, typer.Option(
        "--host-credentials", help="Pass this shell's AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN (default: dummy ones).")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Run FUNCTION's exact packaged zip locally (no Docker) and print its result; its logs go to stderr.

    The zip runs in a fresh interpreter of the function's Python version with only the package and its
    layers on the path (provided.* runtimes run their bootstrap), through the real Lambda runtime interface
    client. Exit 0 on success, 1 when the function fails, 2 when it cannot run here faithfully."""
    from lambdaform import commands

    output = Output(quiet=quiet)
    with handled(output, debug):
        result = commands.invoke(service_file, function, event, env, out, layers=layer or (),
                                set_variables=set_ or (), host_credentials=host_credentials, output=output)
    if result.logs:
        sys.stderr.write(result.logs if result.logs.endswith("\n") else result.logs + "\n")
    if not quiet:
        print(f"REPORT RequestId: {result.request_id} Duration: {result.duration_ms:.2f} ms", file=sys.stderr)
    if result.error is not None:
        typer.echo(json.dumps(result.error.as_dict()))
        output.error(f"{function} failed ({result.error.phase}): {result.error.error_type}: {result.error.error_message}")
        raise typer.Exit(EXIT_TOOL)
    typer.echo(result.payload_bytes.decode("utf-8", "replace"))
