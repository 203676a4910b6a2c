"""What the stream triggers (``dynamodb_stream``, ``kinesis``) share: their options, checks and mapping.

Lambda polls a stream shard by shard, in order; a batch that fails blocks its shard until it succeeds, is
skipped, or its records age out. The defaults keep a bad record from blocking a shard for a day:

* partial batch responses (``report_batch_item_failures``): the handler answers
  ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}`` and Lambda restarts from that record;
* at most ``maximum_retry_attempts`` (3) retries of a failing batch, then it is skipped - sent to the
  ``on_failure`` queue when one is set (the record's shard, sequence numbers and the error, not the data).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from lambdaform.errors import Problem
from lambdaform.fields import Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.names import tf_name
from lambdaform.triggers.base import Use, declared

DEFAULT_RETRIES = 3
RECORD_AGE_RANGE = (60, 604800)


class OnFailure(Strict):
    """Where Lambda sends a record of each batch it gives up on (shard, sequence numbers, error)."""

    queue: Name = Field(description="A key under queues: (a standard queue); the role may send to it.")


class StreamOptions(Strict):
    """Options every stream trigger takes."""

    starting_position: Literal["TRIM_HORIZON", "LATEST"] = Field(
        default="LATEST", description="Where a new mapping starts reading: LATEST (new records, default) or "
        "TRIM_HORIZON (the oldest record still in the stream).")
    batch_size: int = Field(default=100, ge=1, le=10000, description="Records per invocation, at most (default 100).")
    maximum_batching_window_seconds: int = Field(
        default=0, ge=0, le=300, description="Wait up to this long to fill a batch (default 0: invoke at once).")
    parallelization_factor: int = Field(
        default=1, ge=1, le=10, description="Batches processed concurrently per shard (default 1: in order).")
    report_batch_item_failures: bool = Field(
        default=True, description="The handler reports the first failed record (batchItemFailures) and Lambda "
        "retries from there; on by default.")
    bisect_batch_on_function_error: bool = Field(
        default=False, description="Split a failing batch in two and retry each half (off by default).")
    maximum_retry_attempts: int = Field(
        default=DEFAULT_RETRIES, ge=-1, le=10000,
        description=f"Retries of a failing batch before it is skipped (default {DEFAULT_RETRIES}; -1 retries until "
        "the records expire, blocking the shard).")
    maximum_record_age_seconds: int = Field(
        default=-1, description="Skip records older than this (60-604800); -1 (default): no age limit, "
        "maximum_retry_attempts bounds the retries.")
    on_failure: OnFailure | None = Field(
        default=None, description="Send a record of every skipped batch to this queue (none by default).")
    filter_patterns: list[dict[str, Any]] = Field(
        default_factory=list, max_length=10,
        description="Event filtering patterns (records matching none are dropped without invoking).")
    enabled: bool = True

    @field_validator("maximum_record_age_seconds")
    @classmethod
    def _age(cls, value: int) -> int:
        low, high = RECORD_AGE_RANGE
        if value != -1 and not low <= value <= high:
            raise ValueError(f"must be -1 (no limit) or between {low} and {high} seconds, not {value}")
        return value


def check_on_failure(ctx: CheckContext, use: Use, kind: str) -> list[Problem]:
    """The ``on_failure`` queue is declared and a standard queue (Lambda cannot send there if FIFO)."""
    options: StreamOptions = use.options
    if options.on_failure is None:
        return []
    key = options.on_failure.queue
    missing = declared(ctx, "queues", key, use, kind, "on_failure.queue")
    if missing:
        return missing
    if ctx.service.queues[key].fifo:
        return [Problem(use.path(kind, "on_failure", "queue"),
                        f"queues.{key} is a FIFO queue; Lambda's on-failure destination must be a standard queue")]
    return []


def compose_mapping(stack: Composer, use: Use, kind: str, source_arn: str, statements: list[dict],
                    decrypt_with_service_key: bool, **extra: Any) -> None:
    """The event source mapping of one stream trigger, after the exact grant it needs: ``statements`` on the
    stream, sending to the ``on_failure`` queue, and the service key for what this file encrypts with it."""
    from lambdaform.constructs._iam import statement
    from lambdaform.constructs.event_source_mapping import EventSourceMapping, EventSourceMappingProps

    options: StreamOptions = use.options
    statements = list(statements)
    key_actions = ["kms:Decrypt"] if decrypt_with_service_key else []
    destination = None
    if options.on_failure is not None:
        destination = stack.resources["queues"][options.on_failure.queue].queue_arn
        statements.append(statement(["sqs:SendMessage"], [destination], sid="SendFailures"))
        key_actions = ["kms:Decrypt", "kms:GenerateDataKey"]
    if stack.key is not None and key_actions:
        statements.append(statement(key_actions, [stack.key.key_arn], sid="UseServiceKey"))
    grant = stack.grant(use.function, f"{kind.replace('_', '-')}-{use.index}", statements)
    EventSourceMapping(stack, tf_name(use.function, kind, str(use.index)), EventSourceMappingProps(
        event_source_arn=source_arn,
        function_name=stack.functions[use.function].target_arn,
        batch_size=options.batch_size,
        maximum_batching_window_seconds=options.maximum_batching_window_seconds or None,
        report_batch_item_failures=options.report_batch_item_failures,
        filter_patterns=tuple(options.filter_patterns),
        enabled=options.enabled,
        starting_position=options.starting_position,
        parallelization_factor=options.parallelization_factor,
        bisect_batch_on_function_error=options.bisect_batch_on_function_error,
        maximum_retry_attempts=options.maximum_retry_attempts,
        maximum_record_age_seconds=options.maximum_record_age_seconds,
        on_failure_destination_arn=destination,
        depends_on=(grant,),
        **extra,
    ))
