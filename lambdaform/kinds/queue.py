"""``queues:`` SQS queues, encrypted with the environment's key (or SQS-managed keys).

.. code-block:: yaml

    queues:
      jobs: {visibility_timeout_seconds: 180}

Functions get access with ``access: [{queue: jobs, mode: write}]`` (send; ``read`` receives and deletes)
and refer to it as ``${queues.jobs.url}`` / ``.name`` / ``.arn``.
"""

from __future__ import annotations

from pydantic import Field

from lambdaform.fields import Strict
from lambdaform.kinds.base import Composer, Kind
from lambdaform.names import output, physical, tf_name


class Queue(Strict):
    """An SQS queue, encrypted with SQS-managed keys."""

    visibility_timeout_seconds: int = Field(default=30, ge=0, le=43200)
    message_retention_seconds: int = Field(default=345600, ge=60, le=1209600)
    fifo: bool = Field(default=False, description="A FIFO queue (its name gets the .fifo suffix AWS requires), "
                       "exactly-once and ordered per message group, content-based deduplication.")


class Queues(Kind):
    key = "queues"
    model = Queue
    phase = "resources"
    access_key = "queue"
    references = ("name", "arn", "url")

    def compose(self, stack: Composer) -> None:
        from lambdaform.constructs.sqs_queue import Queue as QueueConstruct
        from lambdaform.constructs.sqs_queue import QueueProps

        key_arn = stack.key.key_arn if stack.key else None
        for key, spec in self.items(stack.service).items():
            name = physical(stack.service.project, stack.env, key)
            queue = QueueConstruct(stack, tf_name(key, "queue"), QueueProps(
                name=f"{name}.fifo" if spec.fifo else name,
                fifo=spec.fifo,
                visibility_timeout_seconds=spec.visibility_timeout_seconds,
                message_retention_seconds=spec.message_retention_seconds,
                kms_key_arn=key_arn,
            ))
            stack.add_resource(self.key, key, queue)
            stack.output(output(key, "queue_url"), queue.queue_url, f"SQS queue '{key}'")


KIND = Queues()
