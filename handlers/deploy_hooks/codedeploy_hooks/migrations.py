"""Example migration callables for ``MIGRATION_COMMAND`` (see :mod:`codedeploy_hooks.run_migrations`).

This module only shows the plug point's contract; it changes no database. A real migration lives in
your own module (in this zip or a Lambda layer) and is named, for example, as
``MIGRATION_COMMAND=myapp_migrations:upgrade``::

    def upgrade(ctx: HookContext) -> None:
        engine = connect(os.environ["DATABASE_URL"])   # your code, your dependencies
        ctx.info("applying schema migrations")
        apply_pending_migrations(engine)                # raise (or return False) to fail the hook

The callable must be idempotent: Lambda can retry a hook invocation.
"""

from __future__ import annotations

from codedeploy_hooks.runner import HookContext


def noop_migration(ctx: HookContext) -> None:
    """Does nothing except log that it ran; use it to wire up and test the hook end to end."""
    ctx.info("noop_migration: example migration ran, no changes made")
