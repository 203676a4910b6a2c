"""``schedule``: EventBridge Scheduler invokes the function on a rate, a cron expression or once.

.. code-block:: yaml

    triggers:
      - schedule: {expression: "rate(5 minutes)"}
      - schedule:
          expression: "cron(0 8 ? * MON-FRI *)"     # minutes hours day-of-month month day-of-week year
          timezone: Europe/Berlin                    # UTC by default
          input: {report: daily}                     # the event the function receives
          retry: {maximum_retry_attempts: 3}
          dead_letter_queue: failed                  # a key under queues:

Every schedule of an environment lives in one schedule group named like the stack (``<project>-<env>``):
schedules cannot carry tags, the group does, and the role can trust exactly that group. Each function with
schedules gets one role (``<project>-<env>-<function>-scheduler``) that ``scheduler.amazonaws.com`` may
assume only for this account (``aws:SourceAccount``) and this group (``aws:SourceArn``), allowed to invoke
that function and send to its schedules' dead-letter queues, nothing else. With the service key, the
schedule's input is encrypted with it at rest (the role may decrypt with it).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from pydantic import Field, field_validator

from lambdaform import names
from lambdaform.errors import Problem
from lambdaform.fields import Name, Strict
from lambdaform.kinds.base import CheckContext, Composer
from lambdaform.names import tf_name
from lambdaform.triggers._delivery import RetryPolicy, dead_letter_checks, name_checks
from lambdaform.triggers.base import Trigger, Use

KEY = "schedule"
SERVICE = "scheduler.amazonaws.com"

_RATE = re.compile(r"^rate\((\d+) ([a-z]+)\)$")
_UNITS = ("minute", "hour", "day")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
# (name, lowest, highest, names allowed, extra single-item forms)
_CRON_FIELDS = (
    ("minutes", 0, 59, None, ()),
    ("hours", 0, 23, None, ()),
    ("day-of-month", 1, 31, None, (r"L", r"LW", r"\d{1,2}W", r"L-\d{1,2}")),
    ("month", 1, 12, _MONTHS, ()),
    ("day-of-week", 1, 7, _DAYS, (r"L", r"[1-7]L", rf"(?:{_DAYS})L", r"[1-7]#[1-5]", rf"(?:{_DAYS})#[1-5]")),
    ("year", 1970, 2199, None, ()),
)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """IANA time zone names (zoneinfo's list: no ``posix/`` or ``right/`` variants)."""
    return frozenset(available_timezones())


def _cron_item(item: str, low: int, high: int, words: str | None, extra: tuple[str, ...]) -> bool:
    if item == "*" or any(re.fullmatch(form, item) for form in extra):
        return True
    value = rf"(?:\d+|{words})" if words else r"\d+"
    match = re.fullmatch(rf"({value}|\*)(?:-({value}))?(?:/(\d+))?", item)
    if not match:
        return False
    start, end, step = match.groups()
    numbers = [v for v in (start, end) if v and v.isdigit()]
    if any(not low <= int(v) <= high for v in numbers):
        return False
    if step is not None and int(step) < 1:
        return False
    return not (start == "*" and end is not None)


def _cron_problem(body: str) -> str | None:
    fields = body.split()
    if len(fields) != 6:
        return (f"cron takes six fields (minutes hours day-of-month month day-of-week year), got {len(fields)}: "
                f"'{body}'")
    for text, (name, low, high, words, extra) in zip(fields, _CRON_FIELDS, strict=True):
        if text == "?":
            if name not in ("day-of-month", "day-of-week"):
                return f"'?' is allowed in day-of-month or day-of-week only, not in {name}"
            continue
        bad = [item for item in text.split(",") if not _cron_item(item, low, high, words, extra)]
        if bad:
            return f"{name} '{text}' is not valid (values {low}-{high}{', names ' + words if words else ''})"
    if (fields[2] == "?") == (fields[4] == "?"):
        return "give '?' in exactly one of day-of-month (third field) and day-of-week (fifth field)"
    return None


def expression_problem(expression: str) -> str | None:
    """Why ``expression`` is not a schedule expression AWS accepts, or ``None``."""
    if expression.startswith("rate("):
        match = _RATE.match(expression)
        if not match:
            return f"'{expression}' is not rate(<number> <unit>), e.g. rate(5 minutes) or rate(1 hour)"
        count, unit = int(match.group(1)), match.group(2)
        if count < 1:
            return f"'{expression}': the rate must be at least 1"
        singular = unit.rstrip("s") if unit.endswith("s") else unit
        if singular not in _UNITS:
            return f"'{expression}': the unit is minute(s), hour(s) or day(s), not '{unit}'"
        expected = singular if count == 1 else f"{singular}s"
        if unit != expected:
            return f"'{expression}': write rate({count} {expected}) (singular for 1, plural otherwise)"
        return None
    if expression.startswith("cron(") and expression.endswith(")"):
        problem = _cron_problem(expression[5:-1])
        return f"'{expression}': {problem}" if problem else None
    if expression.startswith("at("):
        match = _AT.match(expression)
        if not match:
            return f"'{expression}' is not at(yyyy-mm-ddThh:mm:ss), e.g. at(2030-01-31T08:00:00)"
        try:
            datetime.fromisoformat(match.group(1))
        except ValueError:
            return f"'{expression}': {match.group(1)} is not a date and time"
        return None
    return (f"'{expression}' is not a schedule expression: rate(5 minutes), cron(0 8 ? * MON-FRI *) or "
            "at(2030-01-31T08:00:00)")


class ScheduleOptions(Strict):
    """Invoke the function on a schedule (EventBridge Scheduler)."""

    expression: str = Field(description="rate(N minutes|hours|days) (singular for 1), a six-field "
                            "cron(minutes hours day-of-month month day-of-week year) with '?' in exactly one of "
                            "the day fields, or at(yyyy-mm-ddThh:mm:ss) for once.")
    timezone: str = Field(default="UTC", description="IANA time zone the cron and at expressions are read in "
                          "(UTC by default).")
    flexible_window_minutes: int | None = Field(
        default=None, ge=1, le=1440,
        description="Run at some time within this many minutes after the scheduled time (spreads load); "
                    "off by default: exactly on time.")
    input: dict[str, Any] | None = Field(default=None, description="The event the function receives (a JSON "
                                         "object); Scheduler's empty default when unset.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retries of a failed invocation "
                               "(AWS's defaults: 185 attempts within 24 hours).")
    dead_letter_queue: Name | None = Field(
        default=None, description="A standard queue under queues: that gets the invocations Scheduler gave up "
                                  "on; none by default (they are dropped).")
    enabled: bool = Field(default=True, description="Off: the schedule exists but does not run.")

    @field_validator("expression")
    @classmethod
    def _expression(cls, value: str) -> str:
        problem = expression_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        if value not in _zones():
            close = sorted(z for z in _zones() if z.lower().endswith(value.lower().split("/")[-1]))
            hint = f"; did you mean {close[0]}?" if close else " (e.g. Europe/Berlin, America/New_York, UTC)"
            raise ValueError(f"'{value}' is not an IANA time zone{hint}")
        return value


class Schedule(Trigger):
    key = KEY
    model = ScheduleOptions
    description = "Invoke the function on a rate, cron or one-time schedule (EventBridge Scheduler)."

    def checks(self, ctx: CheckContext, uses: list[Use]) -> list[Problem]:
        project, env = ctx.service.project, ctx.env
        return (dead_letter_checks(ctx, uses, KEY)
                + name_checks(ctx, uses, KEY, "schedule",
                              lambda use: names.trigger(project, env, use.function, KEY, use.index))
                + name_checks(ctx, uses, KEY, "scheduler role",
                              lambda use: names.role(project, env, use.function, "scheduler")))

    def compose(self, stack: Composer, uses: list[Use]) -> None:
        from lambdaform.constructs._iam import statement
        from lambdaform.constructs.schedule import Schedule as ScheduleConstruct
        from lambdaform.constructs.schedule import ScheduleProps
        from lambdaform.constructs.schedule_group import ScheduleGroup, ScheduleGroupProps
        from lambdaform.constructs.service_role import ServiceRole, ServiceRoleProps

        project, env = stack.service.project, stack.env
        caller, _ = stack.account()
        group = ScheduleGroup(stack, "schedules", ScheduleGroupProps(name=names.service_stack(project, env)))
        by_function: dict[str, list[Use]] = {}
        for use in uses:
            by_function.setdefault(use.function, []).append(use)
        for function, own in by_function.items():
            fn = stack.functions[function]
            queues = [stack.resources["queues"][name] for name in
                      dict.fromkeys(use.options.dead_letter_queue for use in own if use.options.dead_letter_queue)]
            statements = [statement(["lambda:InvokeFunction"], [fn.target_arn], sid="InvokeFunction")]
            if queues:
                statements.append(statement(["sqs:SendMessage"], [q.queue_arn for q in queues], sid="DeadLetter"))
            if stack.key is not None:
                # schedule input is encrypted with the service key; so are the dead-letter queues
                actions = ["kms:Decrypt", "kms:GenerateDataKey"] if queues else ["kms:Decrypt"]
                statements.append(statement(actions, [stack.key.key_arn], sid="UseServiceKey"))
            role = ServiceRole(stack, tf_name(function, "scheduler"), ServiceRoleProps(
                name=names.role(project, env, function, "scheduler"), service=SERVICE,
                source_account=caller.account_id, source_arn=group.group_arn, statements=tuple(statements)))
            for use in own:
                options: ScheduleOptions = use.options
                dlq = stack.resources["queues"][options.dead_letter_queue] if options.dead_letter_queue else None
                ScheduleConstruct(stack, tf_name(function, KEY, str(use.index)), ScheduleProps(
                    name=names.trigger(project, env, function, KEY, use.index),
                    group_name=group.group_name,
                    expression=options.expression,
                    timezone=options.timezone,
                    flexible_window_minutes=options.flexible_window_minutes,
                    target_arn=fn.target_arn,
                    role_arn=role.role_arn,
                    input=options.input,
                    maximum_retry_attempts=options.retry.maximum_retry_attempts,
                    maximum_event_age_seconds=options.retry.maximum_event_age_seconds,
                    dead_letter_arn=dlq.queue_arn if dlq else None,
                    kms_key_arn=stack.key.key_arn if stack.key else None,
                    enabled=options.enabled,
                    depends_on=(role.policy,),
                ))

    def describe(self, use: Use) -> str:
        return f"schedule: {use.options.expression}"


KIND = Schedule()
