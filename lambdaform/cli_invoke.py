"""``lambdaform invoke``: synthesize one environment and run one zip function's packaged zip locally.

The zip is the one ``synth`` writes (``<out>/stacks/<service stack>/assets/<function>.zip``), so what runs
is exactly what would be deployed; :func:`lambdaform.local_invoke.invoke_zip` runs it without Docker.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lambdaform.console import Output
from lambdaform.errors import InputError
from lambdaform.local_invoke import InvokeResult, check_runnable, invoke_zip
from lambdaform.loader import LoadedService, load_service
from lambdaform.service import Service

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


def _local_environment(service: Service, env: str, key: str, overrides: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """The function's variables as deployed, as far as they are known without AWS: ``${tables.x.name}``
    (and buckets, queues) become the physical names, secrets their parameter name or ARN; references to
    ARNs and URLs stay as written and are returned as warnings. ``NAME=VALUE`` overrides win."""
    from lambdaform.stacks import REF

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

        variables[name] = REF.sub(name_of, value)
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


def invoke_command(
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
    from lambdaform.commands import synth_loaded

    output = output or Output(quiet=True)
    loaded: LoadedService = load_service(service_file)
    env = env or next(iter(loaded.environments))
    if env not in loaded.environments:
        raise InputError(f"{loaded.path}: environment '{env}' is not defined "
                         f"(defined: {', '.join(loaded.environments)})")
    service = loaded.environments[env]
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
    if fn.layers and not layers:
        output.note(f"warning: '{function}' declares {len(fn.layers)} layer(s) by ARN; pass --layer ZIP to include "
                    "their contents locally")
    credentials = None
    if host_credentials:
        credentials = {k: os.environ[k] for k in CREDENTIAL_VARIABLES if k in os.environ}

    with tempfile.TemporaryDirectory(prefix="lambdaform-invoke-synth-") as tmp:
        result = synth_loaded(loaded, out or Path(tmp) / "out", [env], output)
        stack = result.stacks[env][-1]  # the service stack holds the packaged zips
        zip_path = result.stack_dir(stack) / "assets" / f"{function}.zip"
        if not zip_path.is_file():
            raise InputError(f"synth wrote no package for '{function}' (looked for {zip_path})")
        with output.progress(f"invoke {function}") as step:
            step(f"running {zip_path.name} ({fn.runtime}, {fn.architecture})")
            return invoke_zip(
                zip_path, runtime=fn.runtime, handler=fn.handler, architecture=fn.architecture, event=event,
                layers=tuple(layers), environment=variables, timeout_seconds=fn.timeout_seconds,
                memory_mb=fn.memory_mb, function_name=service.function_name(env, function), region=service.region,
                credentials=credentials,
            )
