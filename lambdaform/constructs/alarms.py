"""CloudWatch alarms on one Lambda function, notifying an SNS topic (created, encrypted, or an existing one)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement

LAMBDA_NAMESPACE = "AWS/Lambda"


@dataclass(frozen=True)
class FunctionAlarmsProps:
    name: str
    """Name prefix of the alarms and the topic, normally the function's name: ``<name>-errors``,
    ``<name>-duration``, ``<name>-concurrency``, topic ``<name>-alarms``."""
    function_name: str
    """The watched function (the ``FunctionName`` dimension); a Terraform reference keeps the alarms
    after the function in the graph."""
    errors_threshold: int = 5
    """Alarm when the ``Errors`` sum over one period is greater than this (5)."""
    errors_period_seconds: int = 300
    """Period of the errors alarm (5 minutes)."""
    duration_threshold_ms: int = 600_000
    """Alarm when the ``Duration`` maximum within a minute exceeds this (10 minutes)."""
    reserved_concurrency: int | None = None
    """The function's reserved concurrency. Unset or 0: no concurrency alarm (there is no limit to
    compare with)."""
    concurrency_percent: int = 90
    """Alarm when ``ConcurrentExecutions`` reaches this share of ``reserved_concurrency`` (90 %)."""
    topic_arn: str | None = None
    """Notify this existing topic instead of creating one (its owner manages encryption, access and
    subscriptions)."""
    email: str | None = None
    """Subscribe this address to the created topic (AWS mails a confirmation link first). None by default."""
    kms_key_arn: str | None = None
    """Encrypt the created topic with this customer managed key; its policy must let
    ``cloudwatch.amazonaws.com`` use ``kms:Decrypt`` and ``kms:GenerateDataKey*``. Unset: a dedicated key
    is created with exactly that grant (key rotation on). The AWS managed ``alias/aws/sns`` key is not an
    option: its policy cannot be changed and does not admit CloudWatch, so alarm notifications to such a
    topic are dropped."""

    def __post_init__(self) -> None:
        if self.topic_arn is not None and (self.email is not None or self.kms_key_arn is not None):
            raise ValueError("email and kms_key_arn apply to the topic this construct creates, not to topic_arn")
        if not 1 <= self.concurrency_percent <= 100:
            raise ValueError(f"concurrency_percent must be 1-100, not {self.concurrency_percent}")
        if self.errors_period_seconds < 60 or self.errors_period_seconds % 60:
            raise ValueError(f"errors_period_seconds must be a multiple of 60, not {self.errors_period_seconds}")


def concurrency_threshold(reserved_concurrency: int | None, percent: int) -> int | None:
    """Concurrent executions at which the alarm fires: ``percent`` of the reserved concurrency rounded up
    (90 % of 50 -> 45; 95 % of 10 -> 10), ``None`` when nothing is reserved."""
    if not reserved_concurrency:
        return None
    return max(1, math.ceil(reserved_concurrency * percent / 100))


class FunctionAlarms(Construct):
    """Errors, Duration and (with reserved concurrency) ConcurrentExecutions alarms on one function. Each
    notifies the topic on ALARM and on OK, and treats missing data (no invocations) as not breaching.

    Attributes: ``topic_arn``, ``alarm_names`` and ``alarm_arns`` (by kind: ``errors``, ``duration``,
    ``concurrency``), ``kms_key_arn`` (None unless a key was created)."""

    def __init__(self, scope: Construct, id: str, props: FunctionAlarmsProps):
        super().__init__(scope, id)
        self.kms_key_arn: str | None = None
        if props.topic_arn is not None:
            self.topic_arn: str = props.topic_arn
        else:
            self.topic_arn = self._topic(id, props)

        threshold = concurrency_threshold(props.reserved_concurrency, props.concurrency_percent)
        specs = [
            ("errors", "Errors", "Sum", props.errors_period_seconds, "GreaterThanThreshold", props.errors_threshold,
             f"more than {props.errors_threshold} errors in {props.errors_period_seconds} s"),
            ("duration", "Duration", "Maximum", 60, "GreaterThanThreshold", props.duration_threshold_ms,
             f"an invocation ran longer than {props.duration_threshold_ms} ms"),
        ]
        if threshold is not None:
            specs.append(("concurrency", "ConcurrentExecutions", "Maximum", 60, "GreaterThanOrEqualToThreshold",
                          threshold, f"{threshold} or more concurrent executions ({props.concurrency_percent} % of "
                          f"the reserved {props.reserved_concurrency})"))
        self.alarm_names: dict[str, str] = {}
        self.alarm_arns: dict[str, str] = {}
        for kind, metric, stat, period, operator, value, description in specs:
            alarm = named(CloudwatchMetricAlarm(
                self, kind,
                alarm_name=f"{props.name}-{kind}",
                alarm_description=f"Lambda {props.name}: {description}",
                namespace=LAMBDA_NAMESPACE,
                metric_name=metric,
                dimensions={"FunctionName": props.function_name},
                statistic=stat,
                period=period,
                evaluation_periods=1,
                comparison_operator=operator,
                threshold=value,
                treat_missing_data="notBreaching",
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
            ), id, kind)
            self.alarm_names[kind] = alarm.alarm_name
            self.alarm_arns[kind] = alarm.arn

    def _topic(self, id: str, props: FunctionAlarmsProps) -> str:
        key_arn = props.kms_key_arn
        if key_arn is None:
            account = named(DataAwsCallerIdentity(self, "account"), id, "account")
            partition = named(DataAwsPartition(self, "partition"), id, "partition")
            key = named(KmsKey(
                self, "key",
                description=f"Encrypts the alarm topic {props.name}-alarms",
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=_key_policy(f"arn:{partition.partition}:iam::{account.account_id}:root"),
            ), id, "key")
            named(KmsAlias(self, "key-alias", name=f"alias/{props.name}-alarms", target_key_id=key.key_id),
                  id, "key_alias")
            key_arn = self.kms_key_arn = key.arn
        topic = named(SnsTopic(self, "topic", name=f"{props.name}-alarms", kms_master_key_id=key_arn), id, "topic")
        if props.email is not None:
            named(SnsTopicSubscription(self, "email", topic_arn=topic.arn, protocol="email", endpoint=props.email),
                  id, "email")
        return topic.arn


def _key_policy(account_root_arn: str) -> str:
    """The account administers the key through IAM (AWS's default statement); CloudWatch may use it to
    publish alarm notifications to the topic it encrypts - nothing else is encrypted with this key."""
    return policy([
        statement(["kms:*"], "*", sid="AccountAdministersKey", principal={"AWS": account_root_arn}),
        statement(["kms:Decrypt", "kms:GenerateDataKey*"], "*", sid="CloudWatchAlarmsPublish",
                  principal={"Service": "cloudwatch.amazonaws.com"}),
    ])
