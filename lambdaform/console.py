"""Terminal output for the CLI: progress on stderr, results on stdout, errors as one clear paragraph.

On a terminal, progress is a rich spinner; with ``--quiet`` it is silent; otherwise (pipes, CI) each step
is one plain ``lambdaform: ...`` line on stderr, so stdout stays parseable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console


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
