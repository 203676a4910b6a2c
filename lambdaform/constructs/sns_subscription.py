"""A function subscribed to an SNS topic: the invoke permission for that topic, then the subscription.

The permission names the topic (``source_arn``) and, for a topic of this stack, the account
(``source_account``); the subscription waits for it, so SNS's first delivery cannot be refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lambdaform.constructs._iam import named
from lambdaform.constructs.invoke_permission import InvokePermission, InvokePermissionProps


@dataclass(frozen=True)
class SnsSubscriptionProps:
    topic_arn: str
    function_name: str
    """The function the permission is on (its name)."""
    endpoint_arn: str
    """What SNS invokes: the function's ARN, or its alias ARN."""
    qualifier: str | None = None
    """The alias the permission applies to, when ``endpoint_arn`` is one."""
    source_account: str | None = None
    """The topic's account; set for topics of this stack (the deploying account)."""
    filter_policy: Mapping[str, Any] | None = None
    """Only messages matching this policy are delivered; all of them when ``None``."""
    filter_policy_scope: str = "MessageAttributes"
    """What ``filter_policy`` matches: ``MessageAttributes`` (default) or ``MessageBody``."""
    statement_id: str = "AllowSnsInvoke"


class SnsSubscription(Construct):
    """Attribute: ``subscription_arn``."""

    def __init__(self, scope: Construct, id: str, props: SnsSubscriptionProps):
        super().__init__(scope, id)
        permission = InvokePermission(self, f"{id}_permission", InvokePermissionProps(
            function_name=props.function_name, principal="sns.amazonaws.com", source_arn=props.topic_arn,
            source_account=props.source_account, qualifier=props.qualifier, statement_id=props.statement_id))
        filters = ({"filter_policy": json.dumps(dict(props.filter_policy), sort_keys=True, separators=(",", ":")),
                    "filter_policy_scope": props.filter_policy_scope}
                   if props.filter_policy is not None else {})
        subscription = named(SnsTopicSubscription(
            self, "subscription", topic_arn=props.topic_arn, protocol="lambda", endpoint=props.endpoint_arn,
            **filters, depends_on=[permission.resource]), id)
        self.subscription_arn: str = subscription.arn
