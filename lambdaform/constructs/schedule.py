"""An EventBridge Scheduler schedule invoking one target (a Lambda function) with a role.

Scheduler assumes ``role_arn`` to invoke the target and to send what it gives up on to the dead-letter
queue; both happen in the role's name, so the role's policy is the whole grant (no resource policy on the
function). Defaults: no flexible window (runs at the time), AWS's retry limits (185 attempts, 24 hours),
no dead-letter queue, the AWS owned key unless ``kms_key_arn`` is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdktf_cdktf_provider_aws.scheduler_schedule import (
    SchedulerSchedule,
    SchedulerScheduleFlexibleTimeWindow,
    SchedulerScheduleTarget,
    SchedulerScheduleTargetDeadLetterConfig,
    SchedulerScheduleTargetRetryPolicy,
)
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class ScheduleProps:
    name: str
    """Schedule name, unique in its group (64 characters at most)."""
    group_name: str
    expression: str
    """``rate(5 minutes)``, ``cron(0 8 ? * MON-FRI *)`` or ``at(2030-01-01T00:00:00)``."""
    target_arn: str
    """What runs: the function's ARN (or its alias ARN)."""
    role_arn: str
    """The role Scheduler assumes; it must allow ``lambda:InvokeFunction`` on ``target_arn``."""
    timezone: str = "UTC"
    """IANA time zone the cron and at expressions are read in."""
    flexible_window_minutes: int | None = None
    """Run at some time within this window after the scheduled time; off (exactly on time) when ``None``."""
    input: Mapping[str, Any] | None = None
    """The event the function receives (a JSON object); Scheduler's default when ``None``."""
    maximum_retry_attempts: int = 185
    maximum_event_age_seconds: int = 86400
    dead_letter_arn: str | None = None
    """SQS queue for invocations Scheduler gave up on; dropped when ``None``."""
    kms_key_arn: str | None = None
    """Customer managed key for the schedule's input at rest (the role needs ``kms:Decrypt``)."""
    enabled: bool = True
    description: str = ""
    depends_on: Sequence[Any] = field(default_factory=tuple)
    """What must exist first: the role's policy."""


class Schedule(Construct):
    """Attributes: ``schedule_arn``, ``schedule_name``."""

    def __init__(self, scope: Construct, id: str, props: ScheduleProps):
        super().__init__(scope, id)
        window = (SchedulerScheduleFlexibleTimeWindow(mode="FLEXIBLE",
                                                      maximum_window_in_minutes=props.flexible_window_minutes)
                  if props.flexible_window_minutes else SchedulerScheduleFlexibleTimeWindow(mode="OFF"))
        target = SchedulerScheduleTarget(
            arn=props.target_arn,
            role_arn=props.role_arn,
            input=json.dumps(dict(props.input), sort_keys=True, separators=(",", ":"))
            if props.input is not None else None,
            retry_policy=SchedulerScheduleTargetRetryPolicy(
                maximum_retry_attempts=props.maximum_retry_attempts,
                maximum_event_age_in_seconds=props.maximum_event_age_seconds),
            dead_letter_config=SchedulerScheduleTargetDeadLetterConfig(arn=props.dead_letter_arn)
            if props.dead_letter_arn else None,
        )
        schedule = named(SchedulerSchedule(
            self, "schedule",
            name=props.name,
            group_name=props.group_name,
            schedule_expression=props.expression,
            schedule_expression_timezone=props.timezone,
            flexible_time_window=window,
            target=target,
            kms_key_arn=props.kms_key_arn,
            state="ENABLED" if props.enabled else "DISABLED",
            description=props.description or None,
            depends_on=list(props.depends_on) or None,
        ), id)
        self.schedule_arn: str = schedule.arn
        self.schedule_name: str = schedule.name
