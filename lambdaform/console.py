"""Terminal output for the CLI: progress on stderr, results on stdout, errors as one clear paragraph.

On a terminal, progress is a rich spinner; with ``--quiet`` it is silent; otherwise (pipes, CI) each step
is one plain ``lambdaform: ...`` line on stderr, so stdout stays parseable.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

HTTP_API_OUTPUT = "http_api_url"
"""The stack output the deploy result shows as the HTTP API's URL (set by the ``http`` trigger)."""


@dataclass
class Output:
    quiet: bool = False
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True))
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and not self.quiet

    @contextmanager
    def progress(self, title: str) -> Iterator[callable]:
        """Yield a ``step(message)`` callable; show elapsed time when the block ends."""
        start = time.monotonic()
        if self.quiet:
            yield lambda _msg: None
            return
        if self.interactive:
            with self.err.status(f"{title}...") as status:
                yield lambda msg: status.update(f"{title}: {msg}")
        else:
            def step(msg: str) -> None:
                print(f"lambdaform: {title}: {msg}", file=sys.stderr, flush=True)

            yield step
        self.note(f"{title}: done in {time.monotonic() - start:.1f}s")

    def note(self, message: str) -> None:
        if self.quiet:
            return
        if self.interactive:
            self.err.print("[green]✓[/green] ", end="")
            self.err.print(message, markup=False)
        else:
            print(f"lambdaform: {message}", file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        """Print ``error: message`` to stderr (always, even with --quiet)."""
        text = message.rstrip()
        if self.err.is_terminal:
            self.err.print("[bold red]error:[/bold red] ", end="")
            self.err.print(text, markup=False, highlight=False)
        else:
            print(f"error: {text}", file=sys.stderr, flush=True)

    def stream(self, line: str) -> None:
        """Pass one line of an external tool's output through (``--verbose``)."""
        print(line, file=sys.stderr, flush=True)

    def deploy_result(self, result: Any) -> None:
        """A :class:`~lambdaform.deploy.DeployResult` on stdout: tables (and the HTTP API's URL, when there
        is one) on a terminal, otherwise one plain ``name: value`` line per function and output (pipes and CI;
        the URL is the ``output http_api_url: ...`` line)."""
        if not self.out.is_terminal:
            for row in result.functions:
                print(f"function {row.key}: name={row.name} version={row.version} url={row.url or '-'} "
                      f"ecr_repository={row.ecr_repository or '-'}", flush=True)
            for name, value in result.outputs.items():
                print(f"output {name}: {value if isinstance(value, str) else json.dumps(value)}", flush=True)
            for row in getattr(result, "rollouts", []):
                print(f"rollout {row['function']}: {row['from_version']} -> {row['to_version']} {row['status']} "
                      f"deployment={row['deployment_id']}" + (f" reason={row['reason']}" if row["reason"] else ""),
                      flush=True)
            return
        from rich.table import Table

        table = Table(title=f"deployed {result.env}", title_justify="left")
        for column in ("function", "name", "version", "url", "ecr repository"):
            table.add_column(column, overflow="fold")
        for row in result.functions:
            table.add_row(row.key, row.name, row.version, row.url or "-", row.ecr_repository or "-")
        self.out.print(table)
        if isinstance(result.outputs.get(HTTP_API_OUTPUT), str):
            self.out.print(f"http api: {result.outputs[HTTP_API_OUTPUT]}", markup=False, highlight=False)
        outputs = Table(title="outputs", title_justify="left")
        outputs.add_column("name")
        outputs.add_column("value", overflow="fold")
        for name, value in result.outputs.items():
            outputs.add_row(name, value if isinstance(value, str) else json.dumps(value))
        self.out.print(outputs)
        if getattr(result, "rollouts", []):
            rollouts = Table(title="rollouts", title_justify="left")
            for column in ("function", "from", "to", "status", "deployment", "reason"):
                rollouts.add_column(column, overflow="fold")
            for row in result.rollouts:
                rollouts.add_row(row["function"], row["from_version"], row["to_version"], row["status"],
                                 row["deployment_id"], row["reason"] or "-")
            self.out.print(rollouts)
