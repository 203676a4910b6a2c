"""A Lambda event source mapping: Lambda polls a queue or stream and invokes the function with batches.

One construct for SQS, DynamoDB Streams and Kinesis; the options a source does not take are left unset.
Defaults are the safe ones: partial batch responses reported (a failed message is retried alone, not the
whole batch), and for streams a bounded number of retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.lambda_event_source_mapping import (
    LambdaEventSourceMapping,
    LambdaEventSourceMappingDestinationConfig,
    LambdaEventSourceMappingDestinationConfigOnFailure,
    LambdaEventSourceMappingFilterCriteria,
    LambdaEventSourceMappingFilterCriteriaFilter,
    LambdaEventSourceMappingScalingConfig,
)
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class EventSourceMappingProps:
    event_source_arn: str
    function_name: str
    """Function name or ARN (an alias ARN to invoke through an alias)."""
    batch_size: int | None = None
    maximum_batching_window_seconds: int | None = None
    report_batch_item_failures: bool = True
    """Ask for ``batchItemFailures`` in the function's answer (``ReportBatchItemFailures``)."""
    maximum_concurrency: int | None = None
    """SQS only: the most concurrent invocations this mapping starts (2-1000)."""
    filter_patterns: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    """Event filtering: only records matching one of these patterns invoke the function."""
    enabled: bool = True
    # streams only
    starting_position: str | None = None
    """``TRIM_HORIZON``, ``LATEST`` or (Kinesis) ``AT_TIMESTAMP`` with ``starting_position_timestamp``."""
    starting_position_timestamp: str | None = None
    """RFC 3339 time to start reading a Kinesis stream at (``AT_TIMESTAMP`` only)."""
    parallelization_factor: int | None = None
    """Concurrent batches per shard (1-10)."""
    bisect_batch_on_function_error: bool | None = None
    maximum_retry_attempts: int | None = None
    maximum_record_age_seconds: int | None = None
    on_failure_destination_arn: str | None = None
    depends_on: Sequence[Any] = field(default_factory=tuple)
    """What must exist first: the role policy that lets Lambda poll the source (AWS checks it on create)."""


class EventSourceMapping(Construct):
    """Attribute: ``uuid``."""

    def __init__(self, scope: Construct, id: str, props: EventSourceMappingProps):
        super().__init__(scope, id)
        filters = [LambdaEventSourceMappingFilterCriteriaFilter(pattern=json.dumps(dict(p), sort_keys=True,
                                                                                   separators=(",", ":")))
                   for p in props.filter_patterns]
        self.resource = named(LambdaEventSourceMapping(
            self, "mapping",
            event_source_arn=props.event_source_arn,
            function_name=props.function_name,
            batch_size=props.batch_size,
            maximum_batching_window_in_seconds=props.maximum_batching_window_seconds,
            function_response_types=["ReportBatchItemFailures"] if props.report_batch_item_failures else None,
            scaling_config=LambdaEventSourceMappingScalingConfig(maximum_concurrency=props.maximum_concurrency)
            if props.maximum_concurrency else None,
            filter_criteria=LambdaEventSourceMappingFilterCriteria(filter=filters) if filters else None,
            enabled=props.enabled,
            starting_position=props.starting_position,
            starting_position_timestamp=props.starting_position_timestamp,
            parallelization_factor=props.parallelization_factor,
            bisect_batch_on_function_error=props.bisect_batch_on_function_error,
            maximum_retry_attempts=props.maximum_retry_attempts,
            maximum_record_age_in_seconds=props.maximum_record_age_seconds,
            destination_config=LambdaEventSourceMappingDestinationConfig(
                on_failure=LambdaEventSourceMappingDestinationConfigOnFailure(
                    destination_arn=props.on_failure_destination_arn))
            if props.on_failure_destination_arn else None,
            depends_on=list(props.depends_on) or None,
        ), id)
        self.uuid: str = self.resource.uuid
