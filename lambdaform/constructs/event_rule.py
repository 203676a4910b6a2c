"""An EventBridge rule invoking one function: rule (pattern on a bus), target, invoke permission.

The permission names the rule (``source_arn``) and the account (``source_account``). Defaults: the
``default`` bus, AWS's retry limits (185 attempts, 24 hours), no dead-letter queue, the matched event as
the function's input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import (
    CloudwatchEventTarget,
    CloudwatchEventTargetDeadLetterConfig,
    CloudwatchEventTargetRetryPolicy,
)
from constructs import Construct

from lambdaform.constructs._iam import named
from lambdaform.constructs.invoke_permission import InvokePermission, InvokePermissionProps


@dataclass(frozen=True)
class EventRuleProps:
    name: str
    """Rule name (64 characters at most)."""
    pattern: Mapping[str, Any]
    """The event pattern (a JSON object) events must match."""
    function_name: str
    """The function the permission is on."""
    target_arn: str
    """What the rule invokes: the function's ARN or its alias ARN."""
    source_account: str
    """The deploying account's id (the rule's account)."""
    qualifier: str | None = None
    """The alias the permission applies to, when ``target_arn`` is one."""
    bus: str | None = None
    """Event bus name or ARN; the account's ``default`` bus when ``None``."""
    input: Mapping[str, Any] | None = None
    """Send this JSON object instead of the event."""
    input_path: str | None = None
    """Send only this JSONPath of the event (``$.detail``)."""
    maximum_retry_attempts: int = 185
    maximum_event_age_seconds: int = 86400
    dead_letter_arn: str | None = None
    """SQS queue for events EventBridge could not deliver; its policy must admit this rule."""
    enabled: bool = True
    description: str = ""
    statement_id: str = "AllowEventBridgeInvoke"

    def __post_init__(self) -> None:
        if self.input is not None and self.input_path is not None:
            raise ValueError("give input or input_path, not both")


class EventRule(Construct):
    """Attributes: ``rule_arn``, ``rule_name``."""

    def __init__(self, scope: Construct, id: str, props: EventRuleProps):
        super().__init__(scope, id)
        rule = named(CloudwatchEventRule(
            self, "rule", name=props.name, event_bus_name=props.bus,
            event_pattern=json.dumps(dict(props.pattern), sort_keys=True, separators=(",", ":")),
            state="ENABLED" if props.enabled else "DISABLED", description=props.description or None,
        ), id)
        permission = InvokePermission(self, f"{id}_permission", InvokePermissionProps(
            function_name=props.function_name, principal="events.amazonaws.com", source_arn=rule.arn,
            source_account=props.source_account, qualifier=props.qualifier, statement_id=props.statement_id))
        named(CloudwatchEventTarget(
            self, "target", rule=rule.name, event_bus_name=props.bus, target_id="lambda", arn=props.target_arn,
            input=json.dumps(dict(props.input), sort_keys=True, separators=(",", ":"))
            if props.input is not None else None,
            input_path=props.input_path,
            retry_policy=CloudwatchEventTargetRetryPolicy(
                maximum_retry_attempts=props.maximum_retry_attempts,
                maximum_event_age_in_seconds=props.maximum_event_age_seconds),
            dead_letter_config=CloudwatchEventTargetDeadLetterConfig(arn=props.dead_letter_arn)
            if props.dead_letter_arn else None,
            depends_on=[permission.resource],
        ), id, "target")
        self.rule_arn: str = rule.arn
        self.rule_name: str = rule.name
