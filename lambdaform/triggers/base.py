"""The interface every trigger kind plugs in through: what can invoke a function.

A function lists its triggers as one-key mappings, the key naming the kind::

    functions:
      worker:
        triggers:
          - sqs: {queue: jobs, batch_size: 10}
          - schedule: {expression: "rate(5 minutes)"}

A :class:`Trigger` has the same three parts as a top-level kind (:mod:`lambdaform.kinds.base`): its
**model** (the options under its key), its **checks** (given every use of the kind in the environment, so
rules that span functions - a route claimed twice, overlapping S3 filters - live with the kind), and its
**composition** (:meth:`Trigger.compose`, also given every use, so a kind that shares one resource across
functions - the HTTP API, a bucket's notification - creates it once). Like ``aws-cdk``'s
``fn.addEventSource(SqsEventSource(queue))``, a trigger asks the source for exactly the grant it needs
and adds the mapping or the invoke permission itself; the stack never dispatches on kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from lambdaform.errors import Problem
from lambdaform.kinds.base import CheckContext, Composer


@dataclass(frozen=True)
class Use:
    """One trigger of one function: ``functions.<function>.triggers.<index>.<kind>`` = ``options``."""

    function: str
    index: int
    options: Any

    def path(self, kind: str, *more: str | int) -> str:
        """The field path of this use (or of one of its options), for problems."""
        return ".".join(str(p) for p in ("functions", self.function, "triggers", self.index, kind, *more))


class Trigger:
    """Base of every trigger kind. Subclasses set ``key`` and ``model`` and override what they need."""

    key: ClassVar[str]
    """The kind's name in the service file (``sqs``, ``schedule``, ``http``...)."""
    model: ClassVar[type[BaseModel]]
    description: ClassVar[str] = ""

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        """Rules across the file (declared sources, limits that depend on the function), with field paths."""
        return []

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        """Add what invokes the functions (mappings, subscriptions, rules, routes) and the exact grants."""
        raise NotImplementedError

    def describe(self, use: Use) -> str:
        """One short line for ``lambdaform list`` and the ops README's diagram, e.g. ``sqs: jobs``."""
        return self.key


def declared(ctx: CheckContext, kind: str, key: str, use: Use, trigger: str, field: str) -> list[Problem]:
    """A problem when ``key`` is not declared under the top-level ``kind`` (``queues``, ``tables``...)."""
    items = getattr(ctx.service, kind)
    if key in items:
        return []
    return [Problem(use.path(trigger, field),
                    f"'{key}' is not declared under {kind} (declared: {', '.join(items) or 'none'})")]
