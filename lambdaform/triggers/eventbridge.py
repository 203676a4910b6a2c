"""``eventbridge``: an EventBridge rule invokes the function with the events that match its pattern.

.. code-block:: yaml

    triggers:
      - eventbridge:
          pattern: {source: [aws.s3], detail-type: [Object Created]}
          bus: orders                   # an existing bus name or ARN; the account's default bus if unset
          input_path: $.detail          # or input: {...} (a fixed event); the matched event by default
          retry: {maximum_retry_attempts: 8, maximum_event_age_seconds: 3600}
          dead_letter_queue: failed     # a standard queue under queues:

Creates the rule (``<project>-<env>-<function>-eventbridge-<index>``), its target and the invoke permission
for ``events.amazonaws.com`` from that rule only (``source_arn`` and ``source_account``). A dead-letter
queue gets a queue policy admitting exactly the rules that use it, and the service key's policy lets
EventBridge encrypt for exactly those rules (EventBridge sends with its own identity, not a role).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from lambdaform import names
from lambdaform.errors import Problem
from lambdaform.fields import Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.names import tf_name
from lambdaform.triggers._delivery import RetryPolicy, dead_letter_checks, name_checks
from lambdaform.triggers.base import Trigger, Use

KEY = "eventbridge"
SERVICE = "events.amazonaws.com"
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")
_BUS_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:events:[a-z0-9-]+:\d{12}:event-bus/[/.\-_A-Za-z0-9]{1,256}$")


class EventBridgeOptions(Strict):
    """Invoke the function with the events of a bus that match a pattern (an EventBridge rule)."""

    pattern: dict[str, Any] = Field(min_length=1, description="The event pattern (an object, e.g. "
                                    "{source: [my.app]}); required.")
    bus: str | None = Field(default=None, description="An existing event bus name or ARN; the account's "
                            "default bus when unset.")
    input: dict[str, Any] | None = Field(default=None, description="Send this JSON object instead of the event.")
    input_path: str | None = Field(default=None, pattern=r"^\$", max_length=256,
                                   description="Send only this JSONPath of the event (e.g. $.detail).")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retries of a failed delivery "
                               "(AWS's defaults: 185 attempts within 24 hours).")
    dead_letter_queue: Name | None = Field(
        default=None, description="A standard queue under queues: that gets the events EventBridge could not "
                                  "deliver; none by default (they are dropped).")
    enabled: bool = Field(default=True, description="Off: the rule exists but matches nothing.")

    @field_validator("bus")
    @classmethod
    def _bus(cls, value: str | None) -> str | None:
        if value is not None and not (_BUS_NAME.match(value) or _BUS_ARN.match(value)):
            raise ValueError(f"'{value}' is neither an event bus name nor an event bus ARN "
                             "(arn:aws:events:<region>:<account>:event-bus/<name>)")
        return None if value == "default" else value

    @model_validator(mode="after")
    def _rules(self) -> EventBridgeOptions:
        if self.input is not None and self.input_path is not None:
            raise ValueError("give input (a fixed event) or input_path (part of the matched event), not both")
        return self


class EventBridge(Trigger):
    key = KEY
    model = EventBridgeOptions
    description = "Invoke the function with matching events of an EventBridge bus (a rule and a target)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        project, env = ctx.service.project, ctx.env
        return (dead_letter_checks(ctx, uses, KEY)
                + name_checks(ctx, uses, KEY, "rule",
                              lambda use: names.trigger(project, env, use.function, KEY, use.index)))

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs.event_rule import EventRule, EventRuleProps

        project, env = stack.service.project, stack.env
        caller, _ = stack.account()
        senders: dict[str, list[str]] = {}
        for use in uses:
            options: EventBridgeOptions = use.options
            fn = stack.functions[use.function]
            dlq = stack.resources["queues"][options.dead_letter_queue] if options.dead_letter_queue else None
            rule = EventRule(stack, tf_name(use.function, KEY, str(use.index)), EventRuleProps(
                name=names.trigger(project, env, use.function, KEY, use.index),
                pattern=options.pattern,
                function_name=fn.function_name,
                target_arn=fn.target_arn,
                source_account=caller.account_id,
                qualifier=fn.qualifier,
                bus=options.bus,
                input=options.input,
                input_path=options.input_path,
                maximum_retry_attempts=options.retry.maximum_retry_attempts,
                maximum_event_age_seconds=options.retry.maximum_event_age_seconds,
                dead_letter_arn=dlq.queue_arn if dlq else None,
                enabled=options.enabled,
                statement_id=f"AllowEventBridge{use.index}",
            ))
            if options.dead_letter_queue:
                senders.setdefault(options.dead_letter_queue, []).append(rule.rule_arn)
        for queue, rule_arns in senders.items():
            stack.resources["queues"][queue].allow_service_send(SERVICE, rule_arns, sid="EventBridgeDeadLetters")
        if senders and stack.key is not None:
            every = [arn for arns in senders.values() for arn in arns]
            stack.key.allow_service(SERVICE, every, sid="EventBridgeDeadLetters")

    def describe(self, use: Use) -> str:
        return f"eventbridge: {use.options.bus or 'default'} bus"


KIND = EventBridge()
