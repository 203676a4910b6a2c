"""The ``alarms`` section: CloudWatch alarms, an SNS topic and a dashboard for functions of the service.

.. code-block:: yaml

    alarms:
      worker:                         # a key under functions:
        errors_threshold: 5           # Errors (sum) greater than this ...
        errors_period_seconds: 300    # ... within this period (a multiple of 60)
        duration_threshold_seconds: 600
        concurrency_percent: 90       # needs the function's reserved_concurrency
        notify: {email: ops@example.com}   # or {topic_arn: arn:aws:sns:...}; default: a topic, no subscriber
        dashboard: true
        local_metrics_namespace: SAGE # adds the dispatcher's local-vs-Lambda graphs

Defaults that depend on the function:

* ``duration_threshold_seconds`` unset: 600 s, or 80 % of the timeout for functions whose timeout is 600 s
  or less (an invocation can never run past its timeout, so 600 s would never fire). Set explicitly, it
  must be below the function's ``timeout_seconds``.
* ``concurrency_percent`` unset: the concurrency alarm exists only when the function has a
  ``reserved_concurrency``. Set explicitly on a function without one, it is an error (there is no limit
  to take a percentage of).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from lambdaform.errors import Problem
from lambdaform.fields import Arn, Strict
from lambdaform.kinds.base import CheckContext, Composer, Kind
from lambdaform.names import physical, tf_name

KEY = "alarms"

DEFAULT_DURATION_SECONDS = 600
SHORT_TIMEOUT_SHARE_PERCENT = 80


class Notify(Strict):
    """Where alarm notifications go. Default: a topic created for the function (encrypted with a dedicated
    KMS key CloudWatch may use), with no subscriber."""

    email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="Subscribe this address to the created topic (AWS mails a confirmation link).",
    )
    topic_arn: Arn | None = Field(
        default=None, description="Publish to this existing SNS topic instead of creating one.",
    )

    @field_validator("topic_arn")
    @classmethod
    def _sns(cls, value: str | None) -> str | None:
        if value is not None and value.split(":")[2] != "sns":
            raise ValueError(f"'{value}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
        return value

    @model_validator(mode="after")
    def _one(self) -> Notify:
        if self.email is not None and self.topic_arn is not None:
            raise ValueError("give email (subscribe to the created topic) or topic_arn (use an existing "
                             "topic, whose subscriptions you manage), not both")
        return self


class AlarmsSection(Strict):
    """Alarms on one function (Errors, Duration, ConcurrentExecutions), notifying an SNS topic on ALARM and
    OK, and a CloudWatch dashboard. Missing data (no invocations) never alarms."""

    errors_threshold: int = Field(default=5, ge=0, description="Alarm when Errors (sum) exceeds this.")
    errors_period_seconds: int = Field(default=300, ge=60, le=86400,
                                       description="Period of the errors alarm; a multiple of 60.")
    duration_threshold_seconds: int = Field(
        default=DEFAULT_DURATION_SECONDS, ge=1, le=900,
        description="Alarm when one invocation runs longer. Unset: 600, or 80 % of a timeout <= 600 s.",
    )
    concurrency_percent: int = Field(
        default=90, ge=1, le=100,
        description="Alarm when concurrent executions reach this share of the reserved concurrency.",
    )
    notify: Notify = Field(default_factory=Notify)
    dashboard: bool = Field(default=True, description="Create a CloudWatch dashboard for the function.")
    local_metrics_namespace: str | None = Field(
        default=None, min_length=1, max_length=255,
        description="Namespace of the dispatcher's LocalExecutions/LambdaExecutions/RequeuedExecutions "
                    "metrics (e.g. SAGE); adds their graphs to the dashboard.",
    )

    @field_validator("errors_period_seconds")
    @classmethod
    def _period(cls, value: int) -> int:
        if value % 60:
            raise ValueError(f"must be a multiple of 60 (Lambda metrics have 1-minute resolution), not {value}")
        return value

    @field_validator("local_metrics_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(r"[A-Za-z0-9._/#:-]+", value):
            raise ValueError("may hold letters, digits and . _ / # : - only")
        if value.startswith("AWS/"):
            raise ValueError("'AWS/' namespaces belong to AWS services, not to your own metrics")
        return value

    def duration_threshold_ms(self, timeout_seconds: int) -> int:
        """The duration alarm's threshold for a function with this timeout (see the module docstring)."""
        if "duration_threshold_seconds" in self.model_fields_set:
            return self.duration_threshold_seconds * 1000
        if timeout_seconds > DEFAULT_DURATION_SECONDS:
            return DEFAULT_DURATION_SECONDS * 1000
        return timeout_seconds * 1000 * SHORT_TIMEOUT_SHARE_PERCENT // 100


def _problems(service: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, spec in service.alarms.items():
        where = f"{KEY}.{key}"
        fn = service.functions.get(key)
        if fn is None:
            declared = ", ".join(service.functions) or "none"
            out.append((where, f"'{key}' is not a function of this service (declared: {declared})"))
            continue
        if "concurrency_percent" in spec.model_fields_set and not fn.reserved_concurrency:
            out.append((f"{where}.concurrency_percent",
                        f"functions.{key} has no reserved_concurrency to take a percentage of; set "
                        "reserved_concurrency or remove concurrency_percent"))
        if ("duration_threshold_seconds" in spec.model_fields_set
                and spec.duration_threshold_seconds >= fn.timeout_seconds):
            out.append((f"{where}.duration_threshold_seconds",
                        f"must be below functions.{key}.timeout_seconds ({fn.timeout_seconds}): an invocation "
                        "never runs longer than its timeout, so the alarm could never fire"))
    return out


def cross_checks(ctx: CheckContext) -> list[Problem]:
    """Each key names a function; explicit thresholds must be reachable. A problem that only an
    environment's overrides cause is reported under ``environments.<env>.``."""
    in_base = set(_problems(ctx.base))
    return [Problem(path if (path, reason) in in_base else f"environments.{ctx.env}.{path}", reason)
            for path, reason in _problems(ctx.service)]


def compose(stack: Composer) -> None:
    from lambdaform.constructs.alarms import FunctionAlarms, FunctionAlarmsProps
    from lambdaform.constructs.dashboard import FunctionDashboard, FunctionDashboardProps

    service, env = stack.service, stack.env
    for key, spec in service.alarms.items():
        fn_spec = service.functions[key]
        fn = stack.functions[key]
        name = physical(service.project, env, key)
        duration_ms = spec.duration_threshold_ms(fn_spec.timeout_seconds)
        alarms = FunctionAlarms(stack, tf_name(key, "alarms"), FunctionAlarmsProps(
            name=name,
            function_name=fn.function_name,
            errors_threshold=spec.errors_threshold,
            errors_period_seconds=spec.errors_period_seconds,
            duration_threshold_ms=duration_ms,
            reserved_concurrency=fn_spec.reserved_concurrency,
            concurrency_percent=spec.concurrency_percent,
            topic_arn=spec.notify.topic_arn,
            email=spec.notify.email,
        ))
        stack.add_resource(KEY, key, alarms)  # a gradual rollout of the function rolls back on these alarms
        stack.output(f"{tf_name(key)}_alarm_topic_arn", alarms.topic_arn,
                     f"SNS topic notified by the alarms of '{key}'")
        if spec.dashboard:
            dashboard = FunctionDashboard(stack, tf_name(key, "dashboard"), FunctionDashboardProps(
                name=name,
                function_name=fn.function_name,
                region=service.region,
                reserved_concurrency=fn_spec.reserved_concurrency or None,
                errors_threshold=spec.errors_threshold,
                duration_threshold_ms=duration_ms,
                local_metrics_namespace=spec.local_metrics_namespace,
            ))
            stack.output(f"{tf_name(key)}_dashboard_name", dashboard.dashboard_name,
                         f"CloudWatch dashboard of '{key}'")
            stack.output(f"{tf_name(key)}_dashboard_url",
                         f"https://{service.region}.console.aws.amazon.com/cloudwatch/home?region={service.region}"
                         f"#dashboards:name={name}",
                         f"Console link to the CloudWatch dashboard of '{key}'")


class Alarms(Kind):
    key = KEY
    model = AlarmsSection
    description = "Function key -> CloudWatch alarms (and dashboard) for it."

    def checks(self, ctx: CheckContext) -> list[Problem]:
        return cross_checks(ctx)

    def compose(self, stack: Composer) -> None:
        compose(stack)


KIND = Alarms()
