"""One customer managed KMS key per service stack, for everything the stack stores at rest.

Used by log groups, DynamoDB tables, S3 buckets, SQS queues and Lambda environment variables. Rotation is
on. The key policy keeps the account in charge (IAM policies decide who may use it, the usual AWS default)
and lets CloudWatch Logs use it for log groups of this account and region only; a trigger may add a service
that must encrypt on behalf of exact sources (:meth:`ServiceKey.allow_service`: EventBridge rules sending
to an encrypted dead-letter queue).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from constructs import Construct

from lambdaform.constructs._iam import named, policy, statement

USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
               "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:DescribeKey")


@dataclass(frozen=True)
class ServiceKeyProps:
    alias: str
    """Alias name without the ``alias/`` prefix, e.g. ``nl2sql-agent-dev``."""
    region: str
    log_group_prefix: str = ""
    """CloudWatch Logs may use the key for this account's log groups in this region whose name starts with
    this (all of them by default: functions and API access logs live under different prefixes)."""
    deletion_window_days: int = 30
    """How long a scheduled deletion can be cancelled (the longest KMS allows)."""


class ServiceKey(Construct):
    """Attributes: ``key_arn``, ``key_id``, ``alias_name``."""

    def __init__(self, scope: Construct, id: str, props: ServiceKeyProps,
                 caller: DataAwsCallerIdentity, partition: DataAwsPartition):
        super().__init__(scope, id)
        account = caller.account_id
        root = f"arn:{partition.partition}:iam::{account}:root"
        logs_arn = (f"arn:{partition.partition}:logs:{props.region}:{account}:log-group:"
                    f"{props.log_group_prefix}*")
        self._statements = [
            statement(["kms:*"], "*", sid="AccountAdministersThroughIam", principal={"AWS": root}),
            statement(["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "*",
                      sid="CloudWatchLogsOfThisAccount",
                      principal={"Service": f"logs.{props.region}.amazonaws.com"},
                      conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": logs_arn}}),
        ]
        key = named(KmsKey(self, "key", description=f"lambdaform service key for {props.alias}",
                           enable_key_rotation=True, deletion_window_in_days=props.deletion_window_days,
                           policy=policy(self._statements)), id)
        self._key = key
        alias = named(KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=key.key_id), id, "alias")
        self.key_arn: str = key.arn
        self.key_id: str = key.key_id
        self.alias_name: str = alias.name

    def allow_service(self, principal: str, source_arns: list[str], sid: str) -> None:
        """Let an AWS service (``events.amazonaws.com`` delivering to an encrypted queue) encrypt with this
        key on behalf of these sources only (``aws:SourceArn``): ``kms:GenerateDataKey`` and ``kms:Decrypt``."""
        self._statements.append(statement(
            ["kms:Decrypt", "kms:GenerateDataKey"], "*", sid=sid, principal={"Service": principal},
            conditions={"ArnEquals": {"aws:SourceArn": source_arns[0] if len(source_arns) == 1 else source_arns}}))
        self._key.policy = policy(self._statements)
