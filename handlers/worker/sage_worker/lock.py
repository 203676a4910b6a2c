"""A per-execution distributed lock on a DynamoDB table.

Table layout: hash key ``execution_id`` (String); attributes ``owner_id`` (String) and
``expiration_time`` (Number, epoch seconds, also suitable as the table's TTL attribute).

A lock is live while ``now <= expiration_time``. DynamoDB's TTL sweeper deletes expired items lazily
(typically within a few days), so :meth:`DistributedLock.acquire` does not wait for it: its conditional
put succeeds when no item exists *or* the existing one has expired, which takes the stale lock over.
Every state change is a single conditional write, so DynamoDB decides races atomically.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError

DEFAULT_TABLE_NAME = "sage_execution_locks"
DEFAULT_TTL_SECONDS = 3600


class LockHeld(RuntimeError):
    """Raised by :meth:`DistributedLock.hold` when another owner holds a live lock."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(f"execution {execution_id!r} is locked by another owner")
        self.execution_id = execution_id


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DistributedLock:
    """Acquire, refresh and release execution locks.

    ``ttl_seconds`` (default 3600, longer than Lambda's 15-minute maximum run) is how long a lock lives
    without a refresh. ``client`` defaults to ``boto3.client("dynamodb")`` (a low-level client, which
    unlike a boto3 resource is safe to share between threads). ``clock`` returns epoch seconds and
    defaults to ``time.time``; tests inject their own.
    """

    def __init__(
        self,
        table_name: str = DEFAULT_TABLE_NAME,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.table_name = table_name
        self.ttl_seconds = int(ttl_seconds)
        self.client = client if client is not None else boto3.client("dynamodb")
        self.clock = clock

    def _now(self) -> int:
        return int(self.clock())

    @staticmethod
    def _check_id(execution_id: str) -> None:
        if not isinstance(execution_id, str) or not execution_id:
            raise ValueError("execution_id must be a non-empty string")

    def acquire(self, execution_id: str, owner_id: str | None = None) -> tuple[bool, str | None]:
        """Try to take the lock. Return ``(True, owner_id)`` on success, ``(False, None)`` if it is held.

        An expired lock is taken over. ``owner_id`` defaults to a fresh UUID4.
        """
        self._check_id(execution_id)
        owner_id = owner_id or str(uuid.uuid4())
        now = self._now()
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "execution_id": {"S": execution_id},
                    "owner_id": {"S": owner_id},
                    "expiration_time": {"N": str(now + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(execution_id) OR expiration_time < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False, None
            raise
        return True, owner_id

    def release(self, execution_id: str, owner_id: str) -> bool:
        """Delete the lock if ``owner_id`` holds it. Return ``False`` (and change nothing) otherwise."""
        self._check_id(execution_id)
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"execution_id": {"S": execution_id}},
                ConditionExpression="owner_id = :owner",
                ExpressionAttributeValues={":owner": {"S": str(owner_id)}},
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def refresh(self, execution_id: str, owner_id: str) -> bool:
        """Extend a live lock held by ``owner_id`` by ``ttl_seconds`` from now.

        Return ``False`` if the lock is missing, held by someone else, or already expired (an expired
        lock may have been taken over; the caller must stop and not resurrect it).
        """
        self._check_id(execution_id)
        now = self._now()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"execution_id": {"S": execution_id}},
                UpdateExpression="SET expiration_time = :exp",
                ConditionExpression="owner_id = :owner AND expiration_time >= :now",
                ExpressionAttributeValues={
                    ":exp": {"N": str(now + self.ttl_seconds)},
                    ":owner": {"S": str(owner_id)},
                    ":now": {"N": str(now)},
                },
            )
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    @contextmanager
    def hold(self, execution_id: str, owner_id: str | None = None) -> Iterator[str]:
        """``with lock.hold(execution_id) as owner:`` — raise :class:`LockHeld` if not acquired,
        release on exit (also when the body raises)."""
        acquired, owner = self.acquire(execution_id, owner_id)
        if not acquired or owner is None:
            raise LockHeld(execution_id)
        try:
            yield owner
        finally:
            self.release(execution_id, owner)
