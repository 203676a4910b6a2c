"""``dynamodb_stream``: the function reads the change stream of one of this file's tables.

.. code-block:: yaml

    triggers:
      - dynamodb_stream: {table: orders, starting_position: LATEST, on_failure: {queue: failed-orders}}

The table's stream is turned on for it (``NEW_AND_OLD_IMAGES``, unless ``tables.<t>.stream`` chooses
another view): the trigger asks the table construct for its stream ARN, so the table kind never looks at
triggers. The role may describe and read that stream only (``dynamodb:ListStreams`` is left out: IAM grants
it on ``*`` only, and Lambda does not need it), decrypt with the service key the table is encrypted with,
and send to the ``on_failure`` queue. Retries are bounded (see :mod:`lambdaform.triggers._streams`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from lambdaform.errors import Problem
from lambdaform.fields import Name
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.triggers._streams import StreamOptions, check_on_failure, compose_mapping
from lambdaform.triggers.base import Trigger, Use, declared

KEY = "dynamodb_stream"


class DynamodbStreamOptions(StreamOptions):
    """Read a table's DynamoDB stream: a key under ``tables:``."""

    table: Name = Field(description="A key under tables: in this file (its stream is turned on).")

    @field_validator("starting_position", mode="before")
    @classmethod
    def _no_timestamp(cls, value: object) -> object:
        if value == "AT_TIMESTAMP":
            raise ValueError("AT_TIMESTAMP is for kinesis only; a DynamoDB stream starts at TRIM_HORIZON or LATEST")
        return value


class DynamodbStream(Trigger):
    key = KEY
    model = DynamodbStreamOptions
    description = "Read a table's DynamoDB stream (event source mapping, stream turned on, bounded retries)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        for use in uses:
            problems += declared(ctx, "tables", use.options.table, use, KEY, "table")
            problems += check_on_failure(ctx, use, KEY)
        return problems

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        for use in uses:
            table = stack.resources["tables"][use.options.table]
            compose_mapping(stack, use, KEY, table.enable_stream(), table.grant_stream_read(),
                            decrypt_with_service_key=True)

    def describe(self, use: Use) -> str:
        return f"dynamodb_stream: {use.options.table}"


KIND = DynamodbStream()
