"""lambdaform command line: service file -> validated model -> cdktf stacks -> Terraform.

    python main.py validate [SERVICE_FILE]
    python main.py synth    [SERVICE_FILE] [--out cdktf.out] [--env dev]
    python main.py list     [SERVICE_FILE]
    python main.py schema
    python main.py init     DIR [--blueprint nl2sql-agent]

Exit codes: 0 success, 1 an external tool (terraform) failed, 2 invalid input.
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
    from lambdaform.errors import InputError, ToolError
    from lambdaform.loader import ServiceFileError

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
        raise typer.Exit(130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: say so plainly, traceback only on request
        if debug:
            raise
        output.error(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        raise typer.Exit(EXIT_TOOL) from None


@app.command()
def validate(service_file: ServiceFile = Path("service.yaml"), quiet: Quiet = False, debug: Debug = False) -> None:
    """Check a service file and report every problem with its field path."""
    from lambdaform.loader import load_service

    output = Output(quiet=quiet)
    with handled(output, debug):
        loaded = load_service(service_file)
        functions = ", ".join(f"{k} ({f.package})" for k, f in loaded.base.functions.items())
        typer.echo(
            f"{service_file}: valid - project {loaded.base.project}, "
            f"environments {', '.join(loaded.environments)}, functions {functions}"
        )


@app.command()
def synth(
    service_file: ServiceFile = Path("service.yaml"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("cdktf.out"),
    env: Envs = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Synthesize stacks, packages and artifacts into OUT (written atomically)."""
    from lambdaform.commands import synth_service

    output = Output(quiet=quiet)
    with handled(output, debug):
        result = synth_service(service_file, out, env, output)
        typer.echo(f"synthesized {sum(len(s) for s in result.stacks.values())} stack(s) into {result.out_dir}")
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
    """List the stacks and the Terraform resources each one declares."""
    from lambdaform.commands import list_resources

    output = Output(quiet=quiet)
    with handled(output, debug):
        listing = list_resources(service_file, env, output)
        if as_json:
            typer.echo(json.dumps(listing, indent=2))
            return
        for stack, addresses in listing.items():
            typer.echo(f"{stack} ({len(addresses)} resources)")
            for address in addresses:
                typer.echo(f"  {address}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the service file (for editor completion)."""
    from lambdaform.service import Service

    typer.echo(json.dumps(Service.model_json_schema(), indent=2))


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="New service folder.", file_okay=False)],
    blueprint: Annotated[str, typer.Option("--blueprint", "-b", help="Blueprint to start from.")] = "nl2sql-agent",
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder.")] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Scaffold a new service folder (service.yaml + handler code) from a blueprint."""
    from lambdaform.commands import scaffold

    output = Output(quiet=quiet)
    with handled(output, debug):
        written = scaffold(directory, blueprint, force=force)
        typer.echo(f"created {directory / 'service.yaml'} from blueprint {blueprint} ({len(written)} files)")
        typer.echo(f"next: python {Path(__file__).resolve()} synth {directory / 'service.yaml'}")


if __name__ == "__main__":
    sys.exit(app())
