"""``topics:`` SNS topics, encrypted with the environment's key (or the AWS managed ``alias/aws/sns``).

.. code-block:: yaml

    topics:
      alerts: {}
      orders: {fifo: true}        # name gets .fifo; ordered, content-based deduplication

Functions publish with ``access: [{topic: alerts}]`` (``sns:Publish`` on that topic only, plus the service
key; the mode is ``write`` whatever the default, and ``read``/``read_write`` are refused: a function receives
a topic's messages by subscribing, ``triggers: [{sns: {topic: alerts}}]``). Environment values refer to it
as ``${topics.alerts.arn}`` / ``.name``; the stack outputs ``<key>_topic_arn``.
"""

from __future__ import annotations

from pydantic import Field

from lambdaform.errors import Problem
from lambdaform.fields import Strict
from lambdaform.kinds.base import CheckContext, Composer, Kind
from lambdaform.names import output, physical, tf_name


class Topic(Strict):
    """An SNS topic, encrypted with the service key (``alias/aws/sns`` with ``encryption_key: aws-managed``)."""

    fifo: bool = Field(default=False, description="A FIFO topic (its name gets the .fifo suffix AWS requires), "
                       "ordered per message group, content-based deduplication. FIFO topics deliver to SQS "
                       "only, so no function can subscribe to one.")


class Topics(Kind):
    key = "topics"
    model = Topic
    phase = "resources"
    access_key = "topic"
    references = ("name", "arn")

    def checks(self, ctx: CheckContext) -> list[Problem]:
        problems: list[Problem] = []
        for fn_key, fn in ctx.service.functions.items():
            for index, access in enumerate(fn.access):
                if access.target()[0] == self.key and "mode" in access.model_fields_set and access.mode != "write":
                    problems.append(Problem(f"functions.{fn_key}.access.{index}.mode", (
                        f"topics take mode write (publish) only, not {access.mode}; to receive the topic's "
                        f"messages, subscribe the function: triggers: [{{sns: {{topic: {access.topic}}}}}]")))
        return problems

    def compose(self, stack: Composer) -> None:
        from lambdaform.constructs.sns_topic import Topic as TopicConstruct
        from lambdaform.constructs.sns_topic import TopicProps

        key_arn = stack.key.key_arn if stack.key else None
        for key, spec in self.items(stack.service).items():
            name = physical(stack.service.project, stack.env, key)
            topic = TopicConstruct(stack, tf_name(key, "topic"), TopicProps(
                name=f"{name}.fifo" if spec.fifo else name, kms_key_arn=key_arn, fifo=spec.fifo))
            stack.add_resource(self.key, key, topic)
            stack.output(output(key, "topic_arn"), topic.topic_arn, f"SNS topic '{key}'")


KIND = Topics()
