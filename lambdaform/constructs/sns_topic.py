"""An SNS topic encrypted at rest: with the service's customer managed key, or AWS's ``alias/aws/sns``."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from constructs import Construct

from lambdaform.constructs._iam import named, statement

AWS_MANAGED_KEY = "alias/aws/sns"
PUBLISH_ACTIONS = ("sns:Publish",)


@dataclass(frozen=True)
class TopicProps:
    name: str
    """Topic name (a FIFO topic's ends in ``.fifo``)."""
    kms_key_arn: str | None = None
    """Encrypt with this customer managed key; with ``None``, the AWS managed ``alias/aws/sns`` key (never
    unencrypted)."""
    fifo: bool = False
    """A FIFO topic (ordered per message group) with content-based deduplication."""


class Topic(Construct):
    """Attributes: ``topic_arn``, ``topic_name``, ``fifo``."""

    def __init__(self, scope: Construct, id: str, props: TopicProps):
        super().__init__(scope, id)
        if props.fifo != props.name.endswith(".fifo"):
            raise ValueError(f"topic {props.name!r}: a FIFO topic's name ends in .fifo, and only a FIFO topic's does")
        fifo = {"fifo_topic": True, "content_based_deduplication": True} if props.fifo else {}
        topic = named(SnsTopic(self, "topic", name=props.name, kms_master_key_id=props.kms_key_arn or AWS_MANAGED_KEY,
                               **fifo), id)
        self.topic_arn: str = topic.arn
        self.topic_name: str = topic.name
        self.fifo = props.fifo

    def grant(self, mode: str, prefix: str | None = None) -> list[dict]:
        """Statements allowing to publish to this topic only. Topics grant ``write`` alone (the loader refuses
        other modes): receiving is a subscription (the ``sns`` trigger), not a permission of the role."""
        return [statement(list(PUBLISH_ACTIONS), [self.topic_arn])]

    def reference(self, attribute: str) -> str:
        """The value behind ``${topics.<key>.<attribute>}``."""
        return {"name": self.topic_name, "arn": self.topic_arn}[attribute]
