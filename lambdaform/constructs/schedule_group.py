"""An EventBridge Scheduler schedule group: the home of one stack's schedules.

Schedules themselves cannot carry tags; the group does (the provider's default tags), deleting it deletes
its schedules, and a scheduler role can trust exactly this group (``aws:SourceArn``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.scheduler_schedule_group import SchedulerScheduleGroup
from constructs import Construct

from lambdaform.constructs._iam import named


@dataclass(frozen=True)
class ScheduleGroupProps:
    name: str
    """Group name (64 characters at most), normally the stack's ``<project>-<env>``."""


class ScheduleGroup(Construct):
    """Attributes: ``group_name``, ``group_arn``."""

    def __init__(self, scope: Construct, id: str, props: ScheduleGroupProps):
        super().__init__(scope, id)
        group = named(SchedulerScheduleGroup(self, "group", name=props.name), id)
        self.group_name: str = group.name
        self.group_arn: str = group.arn
