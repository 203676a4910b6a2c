"""A DynamoDB table with the secure defaults: on-demand, point-in-time recovery, KMS encryption, optional TTL.

Its stream is off unless asked for: by ``stream_view_type`` in the props, or by a consumer calling
:meth:`DynamoTable.enable_stream` (a ``dynamodb_stream`` trigger does), which turns it on with full images.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTablePointInTimeRecovery,
    DynamodbTableServerSideEncryption,
    DynamodbTableTtl,
)
from constructs import Construct

from lambdaform.constructs._iam import named, statement

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem")
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
"""What an event source mapping needs on the stream. ``dynamodb:ListStreams`` is left out: IAM only grants it
on ``*`` (it lists the account's streams) and Lambda, given the stream ARN, does not need it."""
STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
DEFAULT_STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


@dataclass(frozen=True)
class KeyProps:
    name: str
    type: str = "S"
    """``S`` string (default), ``N`` number or ``B`` binary."""


@dataclass(frozen=True)
class DynamoTableProps:
    name: str
    hash_key: KeyProps
    range_key: KeyProps | None = None
    ttl_attribute: str | None = None
    """Items whose epoch-seconds value in this attribute has passed are deleted by DynamoDB (lazily)."""
    point_in_time_recovery: bool = True
    """Continuous backups for 35 days (on by default)."""
    encryption_kms_key_arn: str | None = None
    """Server-side encryption is always on: with this customer key, else the AWS managed ``aws/dynamodb``."""
    deletion_protection: bool = False
    stream_view_type: str | None = None
    """Turn the table's stream on with this view (``KEYS_ONLY``, ``NEW_IMAGE``, ``OLD_IMAGE``,
    ``NEW_AND_OLD_IMAGES``); ``None``: off until :meth:`DynamoTable.enable_stream` is called."""


class DynamoTable(Construct):
    """Attributes: ``table_name``, ``table_arn``; ``stream_arn`` once the stream is on."""

    def __init__(self, scope: Construct, id: str, props: DynamoTableProps):
        super().__init__(scope, id)
        keys = [props.hash_key] + ([props.range_key] if props.range_key else [])
        self.table = named(
            DynamodbTable(
                self,
                "table",
                name=props.name,
                billing_mode="PAY_PER_REQUEST",
                hash_key=props.hash_key.name,
                range_key=props.range_key.name if props.range_key else None,
                attribute=[DynamodbTableAttribute(name=k.name, type=k.type) for k in keys],
                ttl=DynamodbTableTtl(attribute_name=props.ttl_attribute, enabled=True) if props.ttl_attribute else None,
                point_in_time_recovery=DynamodbTablePointInTimeRecovery(enabled=props.point_in_time_recovery),
                server_side_encryption=DynamodbTableServerSideEncryption(
                    enabled=True, kms_key_arn=props.encryption_kms_key_arn
                ),
                deletion_protection_enabled=props.deletion_protection,
                stream_enabled=True if props.stream_view_type else None,
                stream_view_type=props.stream_view_type,
            ),
            id,
        )
        self.table_name: str = self.table.name
        self.table_arn: str = self.table.arn
        self.stream_view_type: str | None = props.stream_view_type

    def enable_stream(self) -> str:
        """Turn the stream on (with full images, unless the props chose a view) and return its exact ARN."""
        if self.stream_view_type is None:
            self.stream_view_type = DEFAULT_STREAM_VIEW_TYPE
            self.table.stream_enabled = True
            self.table.stream_view_type = self.stream_view_type
        return self.table.stream_arn

    def grant_stream_read(self) -> list[dict]:
        """Statements an event source mapping needs to read this table's stream (and nothing else)."""
        return [statement(list(STREAM_READ_ACTIONS), [self.enable_stream()], sid="ReadStream")]

    def actions(self, mode: str) -> list[str]:
        return list({"read": READ_ACTIONS, "write": WRITE_ACTIONS, "read_write": READ_ACTIONS + WRITE_ACTIONS}[mode])

    def grant(self, mode: str, prefix: str | None = None) -> list[dict]:
        """Statements allowing ``mode`` (read, write, read_write) on this table and its indexes only."""
        return [statement(self.actions(mode), [self.table_arn, f"{self.table_arn}/index/*"])]

    def reference(self, attribute: str) -> str:
        """The value behind ``${tables.<key>.<attribute>}``."""
        return {"name": self.table_name, "arn": self.table_arn}[attribute]
