"""AfterAllowTraffic: no configured CloudWatch alarm is in ALARM, then production URLs answer.

``ALARM_NAMES`` and ``PRODUCTION_URLS`` are each optional, but at least one must be set: a hook that
checks nothing would report Succeeded without having looked at production.
"""

from __future__ import annotations

from typing import Any

from codedeploy_hooks import aws, config
from codedeploy_hooks.config import SmokeSettings
from codedeploy_hooks.errors import ConfigError, HookFailed
from codedeploy_hooks.runner import HookContext, lifecycle_hook
from codedeploy_hooks.smoke import run_smoke_checks

# DescribeAlarms accepts at most 100 names per call.
_MAX_NAMES_PER_CALL = 100


def validate_production(ctx: HookContext) -> None:
    """Alarms are not in ALARM, and production URLs answer 2xx/3xx in time."""
    alarm_names = config.csv_list("ALARM_NAMES", required=False)
    urls = config.url_list("PRODUCTION_URLS", required=False)
    settings = SmokeSettings.from_env() if urls else None
    if not alarm_names and not urls:
        raise ConfigError("set ALARM_NAMES and/or PRODUCTION_URLS; with neither there is nothing to validate")

    if alarm_names:
        _check_alarms(ctx, alarm_names)
    if urls and settings is not None:
        run_smoke_checks(ctx, urls, settings, "production")


def _check_alarms(ctx: HookContext, alarm_names: list[str]) -> None:
    alarms = _describe_alarms(alarm_names)
    missing = [name for name in alarm_names if name not in alarms]
    if missing:
        raise ConfigError(f"CloudWatch alarms not found: {', '.join(missing)} (check ALARM_NAMES)")
    states = {name: alarm.get("StateValue") for name, alarm in alarms.items()}
    ctx.info("CloudWatch alarm states", alarmStates=states)
    firing = [
        f"{name} ({alarms[name].get('StateReason', 'no reason given')})"
        for name, state in states.items()
        if state == "ALARM"
    ]
    if firing:
        raise HookFailed(f"{len(firing)} CloudWatch alarm(s) in ALARM: {'; '.join(firing)}")
    insufficient = [name for name, state in states.items() if state == "INSUFFICIENT_DATA"]
    if insufficient:
        ctx.warning("alarms have insufficient data, not treated as a failure", alarms=insufficient)


def _describe_alarms(alarm_names: list[str]) -> dict[str, dict[str, Any]]:
    """Metric and composite alarms by name (DescribeAlarms returns only metric alarms by default)."""
    paginator = aws.client("cloudwatch").get_paginator("describe_alarms")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(alarm_names), _MAX_NAMES_PER_CALL):
        pages = paginator.paginate(
            AlarmNames=alarm_names[start : start + _MAX_NAMES_PER_CALL],
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        for page in pages:
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                found[alarm["AlarmName"]] = alarm
    return found


handler = lifecycle_hook("validate_production", "AfterAllowTraffic", validate_production)
