"""``tables:`` DynamoDB tables: on-demand, point-in-time recovery and encryption on by default.

.. code-block:: yaml

    tables:
      locks: {hash_key: {name: execution_id}, ttl_attribute: expiration_time}

Functions get access with ``access: [{table: locks, mode: read_write}]`` (the table's ARN and its indexes,
nothing else) and refer to it in environment values as ``${tables.locks.name}`` / ``.arn``.

The table's stream is off unless ``stream:`` names a view type, or a function has a ``dynamodb_stream``
trigger on the table: the trigger asks the table construct for its stream, which turns it on with
``NEW_AND_OLD_IMAGES`` (the table never looks at triggers).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lambdaform.fields import Strict
from lambdaform.kinds.base import Composer, Kind
from lambdaform.names import output, physical, tf_name


class KeyAttribute(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,255}$")
    type: Literal["S", "N", "B"] = "S"


class Table(Strict):
    """A DynamoDB table: on-demand, point-in-time recovery and server-side encryption (AWS managed KMS key)
    on by default, optional TTL."""

    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    ttl_attribute: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,255}$")
    point_in_time_recovery: bool = True
    deletion_protection: bool = Field(default=False, description="Refuse destroy while set (turn on for prod).")
    stream: Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"] | None = Field(
        default=None, description="Turn the table's DynamoDB stream on with this view type. Off by default; a "
        "dynamodb_stream trigger on the table turns it on with NEW_AND_OLD_IMAGES unless this says otherwise.")


class Tables(Kind):
    key = "tables"
    model = Table
    phase = "resources"
    access_key = "table"
    references = ("name", "arn")

    def compose(self, stack: Composer) -> None:
        from lambdaform.constructs.dynamodb_table import DynamoTable, DynamoTableProps, KeyProps

        key_arn = stack.key.key_arn if stack.key else None
        for key, spec in self.items(stack.service).items():
            table = DynamoTable(stack, tf_name(key, "table"), DynamoTableProps(
                name=physical(stack.service.project, stack.env, key),
                hash_key=KeyProps(spec.hash_key.name, spec.hash_key.type),
                range_key=KeyProps(spec.range_key.name, spec.range_key.type) if spec.range_key else None,
                ttl_attribute=spec.ttl_attribute,
                point_in_time_recovery=spec.point_in_time_recovery,
                deletion_protection=spec.deletion_protection,
                encryption_kms_key_arn=key_arn,
                stream_view_type=spec.stream,
            ))
            stack.add_resource(self.key, key, table)
            stack.output(output(key, "table_name"), table.table_name, f"DynamoDB table '{key}'")


KIND = Tables()
