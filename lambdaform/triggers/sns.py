"""``sns``: the function is subscribed to an SNS topic.

.. code-block:: yaml

    triggers:
      - sns: {topic: alerts}                          # a key under topics:, or arn: arn:aws:sns:...
      - sns:
          topic: orders-events
          filter_policy: {kind: [refund]}             # only matching messages are delivered
          filter_policy_scope: MessageBody            # MessageAttributes by default

Creates the invoke permission for ``sns.amazonaws.com`` from that topic only (``source_arn``; a topic of
this file also pins ``source_account``), then the subscription (protocol ``lambda``), which waits for it.
FIFO topics deliver to SQS only, so a FIFO topic of this file is refused.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import Arn, Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.names import tf_name
from lambdaform.triggers.base import Trigger, Use, declared

KEY = "sns"


class SnsOptions(Strict):
    """Subscribe to an SNS topic: a key under ``topics:`` or an ``arn``."""

    topic: Name | None = Field(default=None, description="A key under topics: in this file.")
    arn: Arn | None = Field(default=None, description="An existing topic's ARN (in this stack's region).")
    filter_policy: dict[str, Any] | None = Field(
        default=None, description="Deliver only messages matching this SNS filter policy (an object); every "
                                  "message by default.")
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = Field(
        default="MessageAttributes", description="What filter_policy matches: the message attributes (default) "
                                                 "or the JSON message body.")

    @model_validator(mode="after")
    def _rules(self) -> SnsOptions:
        if (self.topic is None) == (self.arn is None):
            raise ValueError("give exactly one of topic (a key under topics:) or arn")
        if self.arn is not None and self.arn.split(":")[2] != "sns":
            raise ValueError(f"'{self.arn}' is not an SNS topic ARN")
        if "filter_policy_scope" in self.model_fields_set and self.filter_policy is None:
            raise ValueError("filter_policy_scope applies to a filter_policy; give one or drop the scope")
        if self.filter_policy is not None and not self.filter_policy:
            raise ValueError("filter_policy is empty; drop it to receive every message")
        return self


class Sns(Trigger):
    key = KEY
    model = SnsOptions
    description = "Subscribe the function to an SNS topic (optional filter policy)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        problems: list[Problem] = []
        for use in uses:
            options: SnsOptions = use.options
            if options.topic is None:
                if options.arn.endswith(".fifo"):
                    problems.append(Problem(use.path(KEY, "arn"), "a FIFO topic delivers to SQS queues only, "
                                                                   "not to functions"))
                continue
            missing = declared(ctx, "topics", options.topic, use, KEY, "topic")
            problems += missing
            if not missing and ctx.service.topics[options.topic].fifo:
                problems.append(Problem(use.path(KEY, "topic"), f"topics.{options.topic} is a FIFO topic; FIFO "
                                                                "topics deliver to SQS queues only, not to functions"))
        return problems

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs.sns_subscription import SnsSubscription, SnsSubscriptionProps

        caller, _ = stack.account()
        for use in uses:
            options: SnsOptions = use.options
            fn = stack.functions[use.function]
            owned = options.topic is not None
            topic_arn = stack.resources["topics"][options.topic].topic_arn if owned else options.arn
            SnsSubscription(stack, tf_name(use.function, KEY, str(use.index)), SnsSubscriptionProps(
                topic_arn=topic_arn,
                function_name=fn.function_name,
                endpoint_arn=fn.target_arn,
                qualifier=fn.qualifier,
                source_account=caller.account_id if owned else None,
                filter_policy=options.filter_policy,
                filter_policy_scope=options.filter_policy_scope,
                statement_id=f"AllowSns{use.index}",
            ))

    def describe(self, use: Use) -> str:
        return f"sns: {use.options.topic or use.options.arn}"


KIND = Sns()
