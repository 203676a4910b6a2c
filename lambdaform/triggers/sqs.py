"""``sqs``: the function consumes a queue through an event source mapping.

.. code-block:: yaml

    triggers:
      - sqs: {queue: jobs, batch_size: 10}        # a key under queues:, or arn: arn:aws:sqs:...

Partial batch responses are on by default (``report_batch_item_failures``): the handler answers
``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` and only those messages return to the
queue. The role may receive, delete and read the attributes of that queue only (plus decrypt with the
service key when the queue is one of this file's). The queue's visibility timeout must be at least six
times the function's timeout (AWS's guidance), or a message still being processed reappears.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import Arn, Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.names import tf_name
from lambdaform.triggers.base import Trigger, Use, declared

KEY = "sqs"
VISIBILITY_FACTOR = 6
"""AWS: set the queue's visibility timeout to at least six times the function's timeout."""
CONSUME_ACTIONS = ("sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                   "sqs:ReceiveMessage")


class SqsOptions(Strict):
    """Consume an SQS queue: a key under ``queues:`` or an ``arn``."""

    queue: Name | None = Field(default=None, description="A key under queues: in this file.")
    arn: Arn | None = Field(default=None, description="An existing queue's ARN (grant its key yourself).")
    batch_size: int = Field(default=10, ge=1, le=10000,
                            description="Messages per invocation (at most 10 for FIFO queues).")
    maximum_batching_window_seconds: int = Field(
        default=0, ge=0, le=300, description="Wait up to this long to fill a batch (needed for batch_size > 10).")
    report_batch_item_failures: bool = Field(
        default=True, description="The handler reports failed messages (batchItemFailures); on by default.")
    maximum_concurrency: int | None = Field(default=None, ge=2, le=1000,
                                            description="At most this many concurrent invocations.")
    filter_patterns: list[dict[str, Any]] = Field(default_factory=list, max_length=10,
                                                  description="Event filtering patterns (messages matching none are dropped).")
    enabled: bool = True

    @model_validator(mode="after")
    def _rules(self) -> SqsOptions:
        if (self.queue is None) == (self.arn is None):
            raise ValueError("give exactly one of queue (a key under queues:) or arn")
        if self.arn is not None and self.arn.split(":")[2] != "sqs":
            raise ValueError(f"'{self.arn}' is not an SQS queue ARN")
        if self.batch_size > 10 and self.maximum_batching_window_seconds < 1:
            raise ValueError(f"batch_size {self.batch_size} needs maximum_batching_window_seconds >= 1 "
                             "(SQS batches of more than 10 messages are gathered over a window)")
        return self


class Sqs(Trigger):
    key = KEY
    model = SqsOptions
    description = "Consume an SQS queue (event source mapping, partial batch responses)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        for use in uses:
            options: SqsOptions = use.options
            if options.queue is None:
                continue
            missing = declared(ctx, "queues", options.queue, use, KEY, "queue")
            if missing:
                problems += missing
                continue
            queue = ctx.service.queues[options.queue]
            timeout = ctx.service.functions[use.function].timeout_seconds
            if queue.visibility_timeout_seconds < VISIBILITY_FACTOR * timeout:
                problems.append(Problem(use.path(KEY, "queue"), (
                    f"queues.{options.queue}.visibility_timeout_seconds is {queue.visibility_timeout_seconds}, "
                    f"shorter than {VISIBILITY_FACTOR} x functions.{use.function}.timeout_seconds "
                    f"({VISIBILITY_FACTOR} x {timeout} = {VISIBILITY_FACTOR * timeout}); raise it to at least "
                    f"{VISIBILITY_FACTOR * timeout}")))
            if queue.fifo and options.batch_size > 10:
                problems.append(Problem(use.path(KEY, "batch_size"),
                                        f"{options.queue} is a FIFO queue: batch_size is at most 10, not {options.batch_size}"))
        return problems

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs._iam import statement
        from lambdaform.constructs.event_source_mapping import EventSourceMapping, EventSourceMappingProps

        for use in uses:
            options: SqsOptions = use.options
            fn = stack.functions[use.function]
            if options.queue is not None:
                queue = stack.resources["queues"][options.queue]
                queue_arn, statements = queue.queue_arn, queue.grant_consume()
                if stack.key is not None:
                    statements.append(statement(["kms:Decrypt"], [stack.key.key_arn], sid="DecryptQueue"))
            else:
                queue_arn = options.arn
                statements = [statement(list(CONSUME_ACTIONS), [options.arn], sid="ConsumeQueue")]
            grant = stack.grant(use.function, f"sqs-{use.index}", statements)
            EventSourceMapping(stack, tf_name(use.function, "sqs", str(use.index)), EventSourceMappingProps(
                event_source_arn=queue_arn,
                function_name=fn.target_arn,
                batch_size=options.batch_size,
                maximum_batching_window_seconds=options.maximum_batching_window_seconds or None,
                report_batch_item_failures=options.report_batch_item_failures,
                maximum_concurrency=options.maximum_concurrency,
                filter_patterns=tuple(options.filter_patterns),
                enabled=options.enabled,
                depends_on=(grant,),
            ))

    def describe(self, use: Use) -> str:
        return f"sqs: {use.options.queue or use.options.arn}"


KIND = Sqs()
