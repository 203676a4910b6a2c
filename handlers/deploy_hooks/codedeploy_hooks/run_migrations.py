"""BeforeAllowTraffic: run the configured migration before production traffic reaches the new tasks.

``MIGRATION_COMMAND`` names the callable as ``module:function`` (``module:Class.method`` works too),
importable from this package or anything else on ``sys.path`` (e.g. a Lambda layer). The callable gets
the :class:`~codedeploy_hooks.runner.HookContext` (deployment id, structured logging, time left):

* returning normally (anything but ``False``) reports Succeeded;
* returning ``False`` or raising reports Failed, and CodeDeploy rolls the deployment back.

With ``MIGRATION_COMMAND`` unset the hook logs "no migration configured" and reports Succeeded.
Lambda may retry a hook invocation, so a migration must be safe to run twice.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from codedeploy_hooks import config
from codedeploy_hooks.errors import ConfigError, HookFailed
from codedeploy_hooks.runner import HookContext, lifecycle_hook

_COMMAND = re.compile(r"^(?P<module>[A-Za-z_][\w.]*):(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$")


def load_migration(command: str) -> Callable[[HookContext], Any]:
    """Resolve ``module:function`` to a callable, or raise ConfigError saying what is wrong."""
    match = _COMMAND.match(command)
    if match is None:
        raise ConfigError(f"MIGRATION_COMMAND must look like 'package.module:function', got {command!r}")
    module_name, attr_path = match["module"], match["attr"]
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"MIGRATION_COMMAND {command!r}: cannot import {module_name}: {exc}") from exc
    for attr in attr_path.split("."):
        if not hasattr(target, attr):
            raise ConfigError(f"MIGRATION_COMMAND {command!r}: {module_name} has no attribute {attr_path}")
        target = getattr(target, attr)
    if not callable(target):
        raise ConfigError(f"MIGRATION_COMMAND {command!r} is not callable")
    return target  # type: ignore[no-any-return]


def run_migrations(ctx: HookContext) -> None:
    """Run the migration named by MIGRATION_COMMAND, if any."""
    command = config.optional_str("MIGRATION_COMMAND")
    if command is None:
        ctx.info("no migration configured")
        return
    migration = load_migration(command)
    ctx.info(f"running migration {command}", migration=command)
    try:
        result = migration(ctx)
    except Exception as exc:
        ctx.error(f"migration {command} raised", exc_info=True, migration=command)
        raise HookFailed(f"migration {command} raised {type(exc).__name__}: {exc}") from exc
    if result is False:
        raise HookFailed(f"migration {command} returned False")
    ctx.info(f"migration {command} finished", migration=command)


handler = lifecycle_hook("run_migrations", "BeforeAllowTraffic", run_migrations)
