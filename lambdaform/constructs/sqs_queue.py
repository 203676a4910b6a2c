"""An SQS queue encrypted with SQS-managed keys, e.g. a function's dead-letter queue."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement

SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
RECEIVE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
                   "sqs:GetQueueAttributes", "sqs:GetQueueUrl")


@dataclass(frozen=True)
class QueueProps:
    name: str
    visibility_timeout_seconds: int = 30
    message_retention_seconds: int = 1209600
    """14 days by default: the longest SQS keeps messages, so failures can be inspected."""
    kms_key_arn: str | None = None
    """Encrypt with this customer managed key; SQS-managed keys (SSE-SQS) when unset."""
    fifo: bool = False
    """A FIFO queue (``name`` must end in ``.fifo``), with content-based deduplication."""


class Queue(Construct):
    """Attributes: ``queue_arn``, ``queue_url``, ``queue_name``."""

    def __init__(self, scope: Construct, id: str, props: QueueProps):
        super().__init__(scope, id)
        encryption = ({"kms_master_key_id": props.kms_key_arn, "kms_data_key_reuse_period_seconds": 300}
                      if props.kms_key_arn else {"sqs_managed_sse_enabled": True})
        if props.fifo != props.name.endswith(".fifo"):
            raise ValueError(f"queue {props.name!r}: a FIFO queue's name ends in .fifo, and only a FIFO queue's does")
        fifo = {"fifo_queue": True, "content_based_deduplication": True} if props.fifo else {}
        queue = named(SqsQueue(self, "queue", name=props.name, **encryption, **fifo,
                               visibility_timeout_seconds=props.visibility_timeout_seconds,
                               message_retention_seconds=props.message_retention_seconds), id)
        self.queue_arn: str = queue.arn
        self.queue_url: str = queue.url
        self.queue_name: str = queue.name
        self._queue = queue
        self._id = id
        self._resource_statements: list[dict] = []
        self._resource_policy: SqsQueuePolicy | None = None

    def actions(self, mode: str) -> list[str]:
        chosen = {"read": RECEIVE_ACTIONS, "write": SEND_ACTIONS, "read_write": SEND_ACTIONS + RECEIVE_ACTIONS}[mode]
        return sorted(set(chosen))

    def grant_consume(self) -> list[dict]:
        """Statements an event source mapping needs to poll this queue (and nothing else)."""
        return [statement(sorted(set(RECEIVE_ACTIONS) - {"sqs:GetQueueUrl"}), [self.queue_arn], sid="ConsumeQueue")]

    def allow_service_send(self, principal: str, source_arns: list[str], sid: str) -> None:
        """Let an AWS service (``events.amazonaws.com``) send messages here on behalf of these sources only
        (``aws:SourceArn``). A queue has one resource policy: every call adds a statement to it."""
        self._resource_statements.append(statement(
            ["sqs:SendMessage"], [self.queue_arn], sid=sid, principal={"Service": principal},
            conditions={"ArnEquals": {"aws:SourceArn": source_arns[0] if len(source_arns) == 1 else source_arns}}))
        document = policy(self._resource_statements)
        if self._resource_policy is None:
            self._resource_policy = named(SqsQueuePolicy(self, "resource-policy", queue_url=self._queue.url,
                                                         policy=document), self._id, "policy")
        else:
            self._resource_policy.policy = document

    def grant(self, mode: str, prefix: str | None = None) -> list[dict]:
        """Statements allowing ``mode`` (read: receive/delete, write: send) on this queue only."""
        return [statement(self.actions(mode), [self.queue_arn])]

    def reference(self, attribute: str) -> str:
        """The value behind ``${queues.<key>.<attribute>}``."""
        return {"name": self.queue_name, "arn": self.queue_arn, "url": self.queue_url}[attribute]
