"""``kinesis``: the function reads an existing Kinesis data stream.

.. code-block:: yaml

    triggers:
      - kinesis: {stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/clicks", starting_position: TRIM_HORIZON}

The stream must be in the service's region. The role may describe and read that stream only
(``kinesis:DescribeStream``, ``DescribeStreamSummary``, ``GetRecords``, ``GetShardIterator``,
``ListShards``); ``kinesis:ListStreams`` (IAM grants it on ``*`` only) and ``kinesis:SubscribeToShard``
(granted on an enhanced fan-out consumer, which this trigger does not create) are left out. A stream
encrypted with a customer managed key names it in ``kms_key_arn`` to get ``kms:Decrypt`` on exactly that key.
``AT_TIMESTAMP`` starts at ``starting_position_timestamp``. Retries are bounded (see
:mod:`lambdaform.triggers._streams`).
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from lambdaform.errors import Problem
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.triggers._streams import StreamOptions, check_on_failure, compose_mapping
from lambdaform.triggers.base import Trigger, Use

KEY = "kinesis"
READ_ACTIONS = ("kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
                "kinesis:GetShardIterator", "kinesis:ListShards")
STREAM_ARN = r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128}$"
KEY_ARN = r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"


class KinesisOptions(StreamOptions):
    """Read a Kinesis data stream, by ARN."""

    stream_arn: str = Field(description="The stream's ARN: arn:aws:kinesis:<region>:<account>:stream/<name>.")
    starting_position: Literal["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"] = Field(  # type: ignore[assignment]
        default="LATEST", description="Where a new mapping starts reading: LATEST (new records, default), "
        "TRIM_HORIZON (the oldest record kept) or AT_TIMESTAMP (starting_position_timestamp).")
    starting_position_timestamp: AwareDatetime | None = Field(
        default=None, description="With AT_TIMESTAMP: the time to start at, with its time zone "
        "(2025-01-31T08:00:00Z).")
    kms_key_arn: str | None = Field(default=None, pattern=KEY_ARN, description=(
        "The customer managed KMS key the stream is encrypted with: the role may decrypt with it. "
        "None (default): the stream is unencrypted or uses the AWS managed aws/kinesis key."))

    @field_validator("stream_arn")
    @classmethod
    def _stream_arn(cls, value: str) -> str:
        if not re.match(STREAM_ARN, value):
            raise ValueError(f"'{value}' is not a Kinesis data stream ARN (arn:aws:kinesis:<region>:<account>:"
                             "stream/<name>)")
        return value

    @model_validator(mode="after")
    def _rules(self) -> KinesisOptions:
        if (self.starting_position == "AT_TIMESTAMP") != (self.starting_position_timestamp is not None):
            raise ValueError("starting_position AT_TIMESTAMP and starting_position_timestamp go together")
        return self

    @property
    def region(self) -> str:
        return self.stream_arn.split(":")[3]

    @property
    def timestamp(self) -> str | None:
        """The start time as RFC 3339 in UTC, as Lambda takes it."""
        when = self.starting_position_timestamp
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


class Kinesis(Trigger):
    key = KEY
    model = KinesisOptions
    description = "Read a Kinesis data stream (event source mapping, exact read grant, bounded retries)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        for use in uses:
            options: KinesisOptions = use.options
            if options.region != ctx.service.region:
                problems.append(Problem(use.path(KEY, "stream_arn"), (
                    f"the stream is in {options.region}, the service in {ctx.service.region}: Lambda reads "
                    "streams of its own region only")))
            problems += check_on_failure(ctx, use, KEY)
        return problems

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs._iam import statement

        for use in uses:
            options: KinesisOptions = use.options
            statements = [statement(list(READ_ACTIONS), [options.stream_arn], sid="ReadStream")]
            if options.kms_key_arn:
                statements.append(statement(["kms:Decrypt"], [options.kms_key_arn], sid="DecryptStream"))
            compose_mapping(stack, use, KEY, options.stream_arn, statements, decrypt_with_service_key=False,
                            starting_position_timestamp=options.timestamp)

    def describe(self, use: Use) -> str:
        return f"kinesis: {use.options.stream_arn.rsplit('/', 1)[-1]}"


KIND = Kinesis()
