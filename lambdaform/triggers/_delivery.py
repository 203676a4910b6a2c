"""What EventBridge and EventBridge Scheduler share when they invoke a function asynchronously: how long
and how often to retry, and where what they give up on goes (a dead-letter queue declared under queues:)."""

from __future__ import annotations

from pydantic import Field

from lambdaform.errors import Problem
from lambdaform.fields import Strict
from lambdaform.kinds.base import CheckContext
from lambdaform.triggers.base import Use, declared


class RetryPolicy(Strict):
    """How the service retries a failed invocation. Defaults are AWS's: 185 attempts within 24 hours."""

    maximum_retry_attempts: int = Field(default=185, ge=0, le=185,
                                        description="Retries after the first attempt (0-185; 185 by default).")
    maximum_event_age_seconds: int = Field(default=86400, ge=60, le=86400,
                                           description="Give up on an event older than this (60-86400 s; 24 h by default).")


def dead_letter_checks(ctx: CheckContext, uses: list[Use], kind: str) -> list[Problem]:
    """``dead_letter_queue`` must be declared under queues: and be a standard queue (AWS refuses FIFO ones)."""
    problems: list[Problem] = []
    for use in uses:
        name = use.options.dead_letter_queue
        if name is None:
            continue
        missing = declared(ctx, "queues", name, use, kind, "dead_letter_queue")
        problems += missing
        if not missing and ctx.service.queues[name].fifo:
            problems.append(Problem(use.path(kind, "dead_letter_queue"),
                                    f"queues.{name} is a FIFO queue; a dead-letter queue must be a standard queue"))
    return problems


def name_checks(ctx: CheckContext, uses: list[Use], kind: str, what: str, name_of) -> list[Problem]:
    """AWS names (rules, schedules, roles) are 64 characters at most."""
    problems: list[Problem] = []
    for use in uses:
        name = name_of(use)
        if len(name) > 64:
            problems.append(Problem(use.path(kind), (
                f"the {what} name '{name}' is {len(name)} characters; AWS allows 64 (shorten the project, "
                "environment or function key)")))
    return problems
